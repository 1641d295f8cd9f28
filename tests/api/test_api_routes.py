"""Each router of the API on its own (issue #24), and the application object behind them."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dk_sentinel.config import Settings
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel, ServerRuntime
from dk_sentinel.web import problems
from dk_sentinel.web.deps import ApiState

ROUTES = ("health", "analytics", "players", "queue", "interventions", "cases", "runs")


@pytest.fixture
def keys(scored: Settings) -> dict[str, str]:
    app = Sentinel(scored)
    return {role: app.keys.create(f"{role}01", role).api_key
            for role in ("viewer", "analyst", "admin")}  # fmt: skip


@pytest.fixture
def top_player(scored: Settings) -> str:
    return Sentinel(scored).players.queue(min_category="MEDIUM", limit=1).items[0].player_id


def alone(module: str, settings: Settings) -> Iterator[TestClient]:
    """A bare FastAPI app serving one router of the API, with the errors mapped."""
    routes = importlib.import_module(f"dk_sentinel.api.routes.{module}")
    runtime = ServerRuntime(settings)
    app = FastAPI()
    app.state.sentinel = ApiState(runtime)
    problems.install(app)
    app.include_router(routes.router)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        runtime.stop()


def _paths(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, path) for path, ops in app.openapi()["paths"].items() for method in ops}


def test_the_routers_together_are_exactly_the_app(db_settings: Settings) -> None:
    full = _paths(create_app(db_settings))
    parts: list[set[tuple[str, str]]] = []
    for module in ROUTES:
        app = FastAPI()
        app.include_router(importlib.import_module(f"dk_sentinel.api.routes.{module}").router)
        parts.append(_paths(app))
    assert all(parts) and sum(len(p) for p in parts) == len(full)  # disjoint, none empty
    assert set().union(*parts) == full


def test_health_alone(scored: Settings) -> None:
    for client in alone("health", scored):
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/health/ready").json()["status"] == "ready"
        assert client.get("/api/queue").status_code == 404  # not this router's


def test_analytics_alone(scored: Settings, keys: dict[str, str], top_player: str) -> None:
    for client in alone("analytics", scored):
        answer = client.post("/api/analytics/analyze-player", json={"player_id": top_player},
                             headers={"X-API-Key": keys["viewer"]})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["player_id"] == top_player
        assert answer.json()["explanation_source"] in ("ai", "rules")


def test_players_alone(scored: Settings, keys: dict[str, str], top_player: str) -> None:
    for client in alone("players", scored):
        headers = {"X-API-Key": keys["viewer"]}
        answer = client.get(f"/api/players/{top_player}/risk", headers=headers)
        assert answer.status_code == 200 and answer.headers["ETag"]
        again = client.get(f"/api/players/{top_player}/risk",
                           headers={**headers, "If-None-Match": answer.headers["ETag"]})  # fmt: skip
        assert again.status_code == 304
        assert client.get("/api/players/PLR_1_XX/risk", headers=headers).status_code == 422


def test_queue_alone(scored: Settings, keys: dict[str, str]) -> None:
    for client in alone("queue", scored):
        page = client.get("/api/queue?category=MEDIUM&limit=2",
                          headers={"X-API-Key": keys["viewer"]})  # fmt: skip
        assert page.status_code == 200
        assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
        bad = client.get("/api/queue?cursor=%%%", headers={"X-API-Key": keys["viewer"]})
        assert bad.status_code == 422 and bad.json()["detail"] == "invalid cursor"


def test_interventions_alone(scored: Settings, keys: dict[str, str], top_player: str) -> None:
    for client in alone("interventions", scored):
        created = client.post(
            "/api/interventions", headers={"X-API-Key": keys["analyst"]},
            json={"player_id": top_player, "intervention_type": "watchlist",
                  "reason": "Routers tested one at a time"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        listed = client.get(f"/api/interventions?player_id={top_player}",
                            headers={"X-API-Key": keys["viewer"]})  # fmt: skip
        assert [i["intervention_id"] for i in listed.json()["items"]] == [
            created.json()["intervention_id"]
        ]


def test_cases_alone(scored: Settings, keys: dict[str, str]) -> None:
    for client in alone("cases", scored):
        listed = client.get("/api/cases?overdue=true", headers={"X-API-Key": keys["viewer"]})
        assert listed.status_code == 200 and isinstance(listed.json()["items"], list)
        missing = client.get("/api/cases/CASE-NOPE", headers={"X-API-Key": keys["viewer"]})
        assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"
        refused = client.post("/api/cases/CASE-NOPE/close", json={"reason": "Clear for 180 days"},
                              headers={"X-API-Key": keys["viewer"]})  # fmt: skip
        assert refused.status_code == 403


def test_runs_alone(scored: Settings, keys: dict[str, str]) -> None:
    for client in alone("runs", scored):
        runs = client.get("/api/runs", headers={"X-API-Key": keys["viewer"]})
        assert runs.status_code == 200 and runs.json()["items"][0]["status"] == "success"
        refused = client.post("/api/score-batch", headers={"X-API-Key": keys["viewer"]})
        assert refused.status_code == 403


def test_the_application_objects_clock_dates_what_it_records(
    scored: Settings, top_player: str
) -> None:
    """Issue #24: one application object holds the settings, the connections and the clock."""
    moment = datetime(2026, 11, 30, 9, 15)
    app = Sentinel(scored, clock=lambda: moment)
    created = app.interventions.record(
        player_id=top_player, intervention_type="timeout", duration_hours=24,
        reason="A fixed clock for the test", analyst_id="ana01", use_ai=False,
    )  # fmt: skip
    assert created.created_at == moment
    assert created.expires_at == datetime(2026, 12, 1, 9, 15)


def test_the_api_bodies_carry_the_domains_limits() -> None:
    """The API's bodies and the use cases' requests are one rule (``models``), not two."""
    from dk_sentinel.api.schemas import CancelBody, OpenEndedBody, TimeoutBody
    from dk_sentinel.interventions.records import AnalystAction, InterventionRequest

    def limits(model: Any) -> dict[str, Any]:
        keys = ("minLength", "maxLength", "minimum", "maximum", "pattern")
        out = {}
        for name, spec in model.model_json_schema()["properties"].items():
            options = spec.get("anyOf", [spec])
            out[name] = {k: v for option in options for k, v in option.items() if k in keys}
        return out

    body, domain = limits(TimeoutBody), limits(InterventionRequest)
    for name in ("player_id", "reason", "analyst_id", "duration_hours"):
        assert body[name] and body[name] == domain[name], name
    assert body["reason"]["minLength"] == 10 and body["reason"]["maxLength"] == 500
    assert body["duration_hours"] == {"minimum": 1, "maximum": 168}
    # a timeout's length is required; any other type has none (absent or null)
    assert "duration_hours" in TimeoutBody.model_json_schema()["required"]
    open_ended = OpenEndedBody.model_json_schema()["properties"]["duration_hours"]
    assert open_ended["type"] == "null"
    assert limits(CancelBody)["reason"] == limits(AnalystAction)["reason"]


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("Chasing losses after midnight", True),
        ("  ten chars!  ", True),
        ("\tten chars!\n", True),
        ("  nine  ch ", False),  # spaces do not make a reason long enough
        ("a reason with a NUL \x00 inside", False),
        ("a reason with a carriage return\r", False),
        ("a reason \u202e reversed on screen", False),
        ("a reason with an escape \x1b[31m", False),
    ],
)
def test_the_published_reason_pattern_is_the_rule_the_server_enforces(
    text: str, accepted: bool
) -> None:
    """Issue #37 row 16: the OpenAPI document states the control-character and length rules
    that the validators enforce; a schema-valid reason is never refused, and the reverse."""
    import re

    from dk_sentinel.api.schemas import CancelBody
    from dk_sentinel.models import AnalystAction

    pattern = CancelBody.model_json_schema()["properties"]["reason"]["pattern"]
    assert bool(re.fullmatch(pattern, text)) is accepted
    try:
        AnalystAction(analyst_id="ana01", reason=text)
        enforced = True
    except ValueError:
        enforced = False
    assert enforced is accepted
