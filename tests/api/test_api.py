"""The REST API through the ASGI app (FastAPI's TestClient: no network)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import invoke
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel
from dk_sentinel.usecases.keys import Keys

PROBLEM = "application/problem+json"


@pytest.fixture
def api(scored: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys = {role: Sentinel(scored).keys.create(f"{role}01", role).api_key
            for role in ("viewer", "analyst", "admin")}  # fmt: skip
    with TestClient(create_app(scored)) as client:
        yield client, keys


def _h(key: str, **extra: str) -> dict[str, str]:
    return {"X-API-Key": key, **extra}


def test_health_needs_no_key_and_ready_checks_the_warehouse(api: Any) -> None:
    client, _ = api
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert client.get("/health/ready").json()["status"] == "ready"


def test_unready_warehouse_is_503_problem(tmp_path: Any) -> None:
    settings = load_settings(overrides={"warehouse.duckdb.path": tmp_path / "empty.duckdb"})
    with TestClient(create_app(settings)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
    assert response.headers["Retry-After"] == "5"
    assert "sentinel init" in (response.json()["hint"] or "") or response.json()["detail"]


def test_keys_roles_and_401_403(api: Any) -> None:
    client, keys = api
    body = {"player_id": "PLR_1234_MA"}
    missing = client.post("/api/analytics/analyze-player", json=body)
    assert missing.status_code == 401 and missing.headers["content-type"] == PROBLEM
    assert missing.headers["WWW-Authenticate"].startswith("ApiKey")
    wrong = client.post("/api/analytics/analyze-player", json=body, headers=_h("sk_00_nope"))
    assert wrong.status_code == 401
    denied = client.post("/api/score-batch", headers=_h(keys["analyst"]))
    assert denied.status_code == 403 and "needs admin" in denied.json()["detail"]
    viewer_writes = client.post(
        "/api/interventions", headers=_h(keys["viewer"]),
        json={"player_id": "PLR_1234_MA", "intervention_type": "watchlist",
              "reason": "Viewer may not write"},
    )  # fmt: skip
    assert viewer_writes.status_code == 403


def test_analyze_player_success_404_and_422(api: Any, top_player: str) -> None:
    client, keys = api
    ok = client.post("/api/analytics/analyze-player", headers=_h(keys["viewer"]),
                     json={"player_id": top_player, "include_history": True})  # fmt: skip
    assert ok.status_code == 200
    data = ok.json()
    assert data["player_id"] == top_player and data["explanation_source"] == "rules"
    assert data["history"] is not None
    unknown = client.post("/api/analytics/analyze-player", headers=_h(keys["viewer"]),
                          json={"player_id": "PLR_999999_ZZ"})  # fmt: skip
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    bad = client.post("/api/analytics/analyze-player", headers=_h(keys["viewer"]),
                      json={"player_id": "bob"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "player_id"


def test_the_api_and_the_cli_answer_with_the_same_document(
    runner, api: Any, scored: Settings, top_player: str
) -> None:
    client, keys = api
    via_api = client.get(f"/api/players/{top_player}/risk", headers=_h(keys["viewer"]))
    via_cli = invoke(runner, "--db", str(scored.warehouse.duckdb.path), "analyze", top_player,
                     "--format", "json")  # fmt: skip
    assert via_api.json() == json.loads(via_cli.stdout)
    etag = via_api.headers["ETag"]
    cached = client.get(f"/api/players/{top_player}/risk",
                        headers=_h(keys["viewer"], **{"If-None-Match": etag}))  # fmt: skip
    assert cached.status_code == 304


def test_queue_pages_by_cursor(api: Any) -> None:
    client, keys = api
    first = client.get("/api/queue?category=MEDIUM&limit=3", headers=_h(keys["viewer"])).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = client.get(f"/api/queue?category=MEDIUM&limit=3&cursor={first['next_cursor']}",
                        headers=_h(keys["viewer"])).json()  # fmt: skip
    ids = [i["player_id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == len(ids) == 6
    too_many = client.get("/api/queue?limit=501", headers=_h(keys["viewer"]))
    assert too_many.status_code == 422


def test_interventions_201_location_idempotency_and_conflicts(api: Any, top_player: str) -> None:
    client, keys = api
    body = {"player_id": top_player, "intervention_type": "timeout", "duration_hours": 24,
            "reason": "Chasing losses after midnight"}  # fmt: skip
    headers = _h(keys["analyst"], **{"Idempotency-Key": "crm-1"})
    created = client.post("/api/interventions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["Location"] == f"/api/interventions/{item['intervention_id']}"
    assert item["analyst_id"] == "analyst01"
    again = client.post("/api/interventions", json=body, headers=headers)
    assert again.json()["intervention_id"] == item["intervention_id"]
    other = client.post("/api/interventions", json={**body, "duration_hours": 48}, headers=headers)
    assert other.status_code == 409 and other.headers["content-type"] == PROBLEM
    second = client.post("/api/interventions", json=body, headers=_h(keys["analyst"]))
    assert second.status_code == 409 and "supersede" in second.json()["hint"].lower()
    # issue #24: the hint names the API's field, not only the CLI's flag; the title is the
    # status's phrase (as for every problem), the error's kind its own member
    assert '"supersede": true' in second.json()["hint"]
    assert second.json()["title"] == "Conflict" and second.json()["error"] == "ConflictError"
    no_duration = client.post("/api/interventions", headers=_h(keys["analyst"]),
                              json={**body, "duration_hours": None})  # fmt: skip
    assert no_duration.status_code == 422  # the document's own rule: a timeout has a length
    assert [e["field"] for e in no_duration.json()["errors"]] == ["timeout.duration_hours"]
    nudge_length = client.post("/api/interventions", headers=_h(keys["analyst"]),
                               json={**body, "intervention_type": "nudge"})  # fmt: skip
    assert nudge_length.status_code == 422
    assert [e["field"] for e in nudge_length.json()["errors"]] == ["nudge.duration_hours"]
    someone_else = client.post("/api/interventions", headers=_h(keys["analyst"]),
                               json={**body, "analyst_id": "ana99"})  # fmt: skip
    assert someone_else.status_code == 403

    one = client.get(f"/api/interventions/{item['intervention_id']}", headers=_h(keys["viewer"]))
    assert one.json()["events"][0]["event_type"] == "created"
    listed = client.get(f"/api/interventions?player_id={top_player}", headers=_h(keys["viewer"]))
    assert [i["intervention_id"] for i in listed.json()["items"]] == [item["intervention_id"]]
    cancelled = client.post(f"/api/interventions/{item['intervention_id']}/cancel",
                            json={"reason": "Player agreed a limit"}, headers=_h(keys["analyst"]))  # fmt: skip
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    missing = client.get("/api/interventions/INT-NOPE", headers=_h(keys["viewer"]))
    assert missing.status_code == 404


def test_rate_limit_is_429_with_retry_after(scored: Settings) -> None:
    limited = load_settings(
        overrides={
            "warehouse.duckdb.path": scored.warehouse.duckdb.path,
            "api.rate_limit": "3/minute",
        }
    )
    key = Sentinel(limited).keys.create("viewer01", "viewer").api_key
    with TestClient(create_app(limited)) as client:
        codes = [client.get("/api/runs", headers=_h(key)).status_code for _ in range(4)]
        last = client.get("/api/runs", headers=_h(key))
    assert codes == [200, 200, 200, 429]
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1
    assert last.headers["content-type"] == PROBLEM


def test_runs_and_score_batch_202(api: Any) -> None:
    client, keys = api
    runs = client.get("/api/runs", headers=_h(keys["viewer"]))
    assert runs.status_code == 200 and runs.json()["items"][0]["status"] == "success"
    started = client.post("/api/score-batch", headers=_h(keys["admin"]))
    assert started.status_code == 202 and started.json()["runs"] == "/api/runs"


def test_api_keys_cli_create_list_revoke(runner, scored: Settings) -> None:
    db = str(scored.warehouse.duckdb.path)
    created = invoke(runner, "--db", db, "api-keys", "create", "--analyst", "ana01",
                     "--role", "analyst")  # fmt: skip
    assert created.exit_code == 0
    key = created.stdout.strip()
    assert key.startswith("sk_") and "shown once" in created.stderr
    listed = json.loads(invoke(runner, "--db", db, "api-keys", "list", "--format", "json").stdout)
    assert key not in json.dumps(listed) and listed[0]["role"] == "analyst"
    with TestClient(create_app(scored)) as client:
        assert client.get("/api/runs", headers=_h(key)).status_code == 200
        revoked = invoke(runner, "--db", db, "api-keys", "revoke", listed[0]["key_id"])
        assert revoked.exit_code == 0
        # remembered for [api] key_cache_seconds (30 s, documented), then refused
        assert client.get("/api/runs", headers=_h(key)).status_code == 200
    with TestClient(create_app(scored)) as client:
        assert client.get("/api/runs", headers=_h(key)).status_code == 401
    uncached = scored.model_copy(deep=True)
    uncached.api.key_cache_seconds = 0
    with TestClient(create_app(uncached)) as client:
        assert client.get("/api/runs", headers=_h(key)).status_code == 401


def test_a_valid_key_is_looked_up_once_per_cache_period(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #25: every request ran a warehouse query (the key lookup), so a warehouse serving
    the API never suspended."""
    client, keys = api
    lookups: list[str] = []
    real = Keys.authenticate

    def counted(self: Keys, presented: str) -> Any:
        lookups.append(presented)
        return real(self, presented)

    monkeypatch.setattr(Keys, "authenticate", counted)
    for _ in range(5):
        assert client.get("/health/ready").status_code == 200
        assert client.get("/api/runs", headers=_h(keys["viewer"])).status_code == 200
    assert lookups == [keys["viewer"]]
    assert client.get("/api/runs", headers=_h("sk_00_wrong")).status_code == 401
    assert client.get("/api/runs", headers=_h("sk_00_wrong")).status_code == 401
    assert lookups.count("sk_00_wrong") == 2  # a wrong key is never remembered


def test_a_key_checked_lately_is_taken_while_a_run_holds_the_warehouse(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expired cache entry and a busy warehouse: the key checked within two cache periods
    is taken (served from memory during a scoring run); one found revoked never is."""
    from dk_sentinel.errors import BusyError

    client, keys = api
    state = client.app.state.sentinel
    assert client.get("/api/runs", headers=_h(keys["viewer"])).status_code == 200
    ttl = state.runtime.settings.api.key_cache_seconds
    clock = [time.monotonic() + ttl + 1]  # the entry has expired, not by two periods
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    def busy(self: Keys, presented: str) -> Any:
        raise BusyError("the warehouse is busy", "Retry later.")

    real = Keys.authenticate
    monkeypatch.setattr(Keys, "authenticate", busy)
    assert state.authenticate(keys["viewer"]) is not None
    clock[0] += 2 * ttl  # beyond two periods: the busy error stands
    with pytest.raises(BusyError):
        state.authenticate(keys["viewer"])
    monkeypatch.setattr(Keys, "authenticate", lambda self, k: None)  # revoked
    clock[0] -= 2 * ttl - 1.5  # within two periods, past the second between asks
    assert state.authenticate(keys["viewer"]) is None
    monkeypatch.setattr(Keys, "authenticate", busy)
    with pytest.raises(BusyError):  # the refused key was forgotten, not kept for a busy spell
        state.authenticate(keys["viewer"])
    monkeypatch.setattr(Keys, "authenticate", real)


def test_while_the_warehouse_is_busy_a_key_is_rechecked_once_a_second(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests taken on a recent check do not each wait for the busy warehouse."""
    from dk_sentinel.errors import BusyError

    client, keys = api
    state = client.app.state.sentinel
    assert client.get("/api/runs", headers=_h(keys["viewer"])).status_code == 200
    ttl = state.runtime.settings.api.key_cache_seconds
    clock = [time.monotonic() + ttl + 1]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    asked: list[str] = []

    def busy(self: Keys, presented: str) -> Any:
        asked.append(presented)
        raise BusyError("the warehouse is busy", "Retry later.")

    monkeypatch.setattr(Keys, "authenticate", busy)
    for _ in range(5):
        assert state.authenticate(keys["viewer"]) is not None
    assert len(asked) == 1
    clock[0] += 1.1
    assert state.authenticate(keys["viewer"]) is not None
    assert len(asked) == 2


def test_a_too_short_analyst_id_is_a_usage_error_not_an_internal_one(
    runner, db_settings: Settings
) -> None:
    """Issue #24: `api-keys create --analyst ab` printed a multi-line pydantic "Internal error"."""
    db = str(db_settings.warehouse.duckdb.path)
    assert invoke(runner, "--db", db, "init").exit_code == 0
    result = invoke(runner, "--db", db, "api-keys", "create", "--analyst", "ab")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "Error: analyst id 'ab' must be 3-50 characters"
    assert "Internal error" not in result.stderr and "pydantic" not in result.stderr
    listed = invoke(runner, "--db", db, "api-keys", "list", "--format", "json")
    assert json.loads(listed.stdout) == []  # nothing stored


def test_interventions_for_a_garbage_player_id_are_422_like_every_route(api: Any) -> None:
    """Issue #24: `GET /api/interventions?player_id=<garbage>` answered 200 []."""
    client, keys = api
    bad = client.get("/api/interventions", params={"player_id": "garbage"},
                     headers=_h(keys["viewer"]))  # fmt: skip
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "not a valid player id" in bad.json()["detail"]
    good = client.get("/api/interventions", params={"player_id": "PLR_1234_MA"},
                      headers=_h(keys["viewer"]))  # fmt: skip
    assert good.status_code == 200 and good.json()["items"] == []


def test_openapi_is_printed_with_every_path(runner) -> None:
    result = invoke(runner, "schema", "openapi")
    document = json.loads(result.stdout)
    assert {"/health", "/api/analytics/analyze-player", "/api/interventions", "/api/queue",
            "/api/score-batch"} <= set(document["paths"])  # fmt: skip


def test_twenty_concurrent_identical_posts_make_one_intervention(
    api: Any, top_player: str, scored: Settings
) -> None:
    import threading

    client, keys = api
    body = {"player_id": top_player, "intervention_type": "watchlist",
            "reason": "Escalating stakes on live markets"}  # fmt: skip
    headers = _h(keys["analyst"], **{"Idempotency-Key": "crm-concurrent"})
    start, answers = threading.Barrier(20), []

    def post() -> None:
        start.wait()
        answers.append(client.post("/api/interventions", json=body, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted({a.status_code for a in answers}) == [201]
    assert len({a.json()["intervention_id"] for a in answers}) == 1
    from dk_sentinel.warehouse import connect

    with connect(scored) as wh:
        assert wh.query(
            "select count(*) from {ops}.interventions where idempotency_key = 'crm-concurrent'"
        ) == [(1,)]
