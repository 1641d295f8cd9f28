"""The outbox and `sentinel deliver` against local HTTP servers; the interventions report."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import AS_OF, invoke
from dk_sentinel.analysis.assessment import assess
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.ingest import ingest
from dk_sentinel.interventions.delivery import deliver
from dk_sentinel.interventions.records import create_intervention, parse_request
from dk_sentinel.models import utcnow
from dk_sentinel.warehouse import connect

SECRET = "test-webhook-secret"


class Platform:
    """A local webhook: verifies signatures, applies each idempotency key once, counts posts."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok | error | slow
        self.delay = 0.0
        self.posts: list[str] = []
        self.applied: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                stamp = self.headers["X-Sentinel-Timestamp"]
                want = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
                if self.headers["X-Sentinel-Signature"] != "sha256=" + want.hexdigest():
                    platform.bad_signatures += 1
                platform.posts.append(key)
                if platform.mode == "slow" or platform.delay:
                    time.sleep(platform.delay or 2.0)
                if platform.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"platform down for maintenance")
                    return
                platform.applied.setdefault(key, json.loads(body))  # once per key
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform() -> Iterator[Platform]:
    server = Platform()
    yield server
    server.close()


def _with_webhook(settings: Settings, url: str, **extra: Any) -> Settings:
    return load_settings(
        overrides={
            "warehouse.duckdb.path": settings.warehouse.duckdb.path,
            "delivery.webhook_url": url,
            **extra,
        }
    )


def _record(settings: Settings, player: str, kind: str = "watchlist", **fields: Any) -> str:
    from dk_sentinel.usecases import Sentinel

    item = Sentinel(settings).interventions.record(
        player_id=player, intervention_type=kind, reason="Outbox delivery test",
        analyst_id="ana01", use_ai=False, **fields,
    )  # fmt: skip
    return item.intervention_id


def _players(settings: Settings, n: int) -> list[str]:
    with connect(settings) as wh:
        return [r[0] for r in wh.query(
            "select player_id from {analytics}.rg_latest_risk_scores order by player_id limit ?",
            [n],
        )]  # fmt: skip


def _outbox(settings: Settings) -> list[dict[str, Any]]:
    with connect(settings) as wh:
        return wh.query_dicts("select * from {ops}.outbox order by created_at, item_id")


def test_each_change_queues_one_item_in_the_same_transaction(
    scored: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    player = _players(scored, 1)[0]
    intervention = _record(scored, player, "timeout", duration_hours=24)
    from dk_sentinel.usecases import Sentinel

    Sentinel(scored).interventions.cancel(intervention, "Player asked to end it early", "ana01")
    items = _outbox(scored)
    assert [(i["action"], i["status"]) for i in items] == [
        ("created", "pending"), ("cancelled", "pending")
    ]  # fmt: skip
    created = json.loads(items[0]["payload"])
    assert created["intervention_id"] == intervention and created["duration_hours"] == 24
    assert created["idempotency_key"] == intervention
    assert json.loads(items[1]["payload"])["idempotency_key"] == f"{intervention}:cancel"
    assert "reason" not in created  # the analyst's note stays inside

    import dk_sentinel.interventions.records as interventions

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(interventions, "enqueue", broken)
    other = _players(scored, 2)[1]
    with pytest.raises(RuntimeError):
        _record(scored, other)
    with connect(scored) as wh:  # no record without its outbox item
        assert (
            wh.query("select count(*) from {ops}.interventions where player_id = ?", [other])[0][0]
            == 0
        )


def test_deliver_posts_signed_items_once_and_lists_them_delivered(
    runner, scored: Settings, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [_record(scored, p) for p in _players(scored, 3)]
    monkeypatch.setenv("SENTINEL_WEBHOOK_SECRET", SECRET)
    db = str(scored.warehouse.duckdb.path)
    env = {"SENTINEL_DELIVERY__WEBHOOK_URL": platform.url}
    result = invoke(runner, "--db", db, "deliver", "--format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["delivered"], report["failed"], report["still_pending"]) == (3, 0, 0)
    assert sorted(platform.applied) == sorted(ids) and platform.bad_signatures == 0
    assert platform.applied[ids[0]]["event"] == "intervention.created"
    again = invoke(runner, "--db", db, "deliver", "--format", "json", env=env)
    assert json.loads(again.stdout)["attempted"] == 0 and len(platform.posts) == 3
    listed = json.loads(
        invoke(runner, "--db", db, "interventions", "list", "--format", "json").stdout
    )
    assert {i["delivery_status"] for i in listed} == {"delivered"}
    table = invoke(runner, "--db", db, "interventions", "list")
    assert "delivered" in table.stdout


def test_a_superseded_timeout_reaches_the_webhook_as_the_end_of_the_old_one(
    runner, scored: Settings, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #36: a 72 h timeout replaced by a 2 h one tells the platform both: the old one
    ended (intervention.superseded, signed, its own idempotency key) and what replaced it."""
    player = _players(scored, 1)[0]
    old = _record(scored, player, "timeout", duration_hours=72)
    new = _record(scored, player, "timeout", duration_hours=2, supersede=True)
    monkeypatch.setenv("SENTINEL_WEBHOOK_SECRET", SECRET)
    db = str(scored.warehouse.duckdb.path)
    env = {"SENTINEL_DELIVERY__WEBHOOK_URL": platform.url}
    result = invoke(runner, "--db", db, "deliver", "--format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["delivered"] == 3 and platform.bad_signatures == 0
    ended = platform.applied[f"{old}:superseded"]
    assert ended["event"] == "intervention.superseded" and ended["intervention_id"] == old
    assert ended["superseded_by"] == new and ended["cancelled_at"] is not None
    assert platform.applied[new]["supersedes"] == [old]
    assert platform.applied[new]["duration_hours"] == 2
    again = invoke(runner, "--db", db, "deliver", "--format", "json", env=env)
    assert json.loads(again.stdout)["attempted"] == 0  # idempotent: nothing sent twice


def test_an_outage_loses_nothing_and_backs_off(
    scored: Settings, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_WEBHOOK_SECRET", SECRET)
    ids = [_record(scored, p) for p in _players(scored, 2)]
    settings = _with_webhook(scored, platform.url)
    platform.mode = "error"
    with connect(settings) as wh:
        first = deliver(wh, settings)
    assert (first.attempted, first.failed, first.still_pending) == (2, 2, 2)
    assert "HTTP 500" in first.errors[0] and first.failure() is not None
    assert first.failure().exit_code == 4  # type: ignore[union-attr]
    items = _outbox(settings)
    assert all(i["status"] == "pending" and i["attempts"] == 1 for i in items)
    assert all(i["next_attempt_at"] > utcnow() + timedelta(seconds=25) for i in items)
    with connect(settings) as wh:
        assert deliver(wh, settings).attempted == 0  # not due yet: backoff
        platform.mode = "ok"
        later = deliver(wh, settings, now=utcnow() + timedelta(minutes=5))
        log = wh.query("select attempt, status_code from {ops}.outbox_attempts order by 1, 2")
    assert later.delivered == 2 and sorted(platform.applied) == sorted(ids)
    assert log == [(1, 500), (1, 500), (2, 200), (2, 200)]


def test_timeout_and_refused_connection_stop_the_run_and_keep_items(
    scored: Settings, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_WEBHOOK_SECRET", SECRET)
    for p in _players(scored, 3):
        _record(scored, p)
    platform.mode = "slow"
    slow = _with_webhook(scored, platform.url, **{"delivery.timeout_seconds": 0.3})
    with connect(slow) as wh:
        timed_out = deliver(wh, slow)
    assert timed_out.stopped_early and timed_out.attempted == 1
    assert "Timeout" in timed_out.errors[0] and timed_out.still_pending == 3

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = _with_webhook(scored, f"http://127.0.0.1:{port}/rg")
    with connect(refused) as wh:
        report = deliver(wh, refused, now=utcnow() + timedelta(hours=2))
    assert report.stopped_early and "ConnectError" in report.errors[0]
    assert report.still_pending == 3


def test_kill_9_mid_delivery_loses_nothing_and_applies_nothing_twice(
    scored: Settings, platform: Platform
) -> None:
    ids = [_record(scored, p) for p in _players(scored, 12)]
    platform.delay = 0.3
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(SENTINEL_WEBHOOK_SECRET=SECRET, SENTINEL_DELIVERY__WEBHOOK_URL=platform.url)
    cmd = [sys.executable, "-m", "dk_sentinel", "--db", str(scored.warehouse.duckdb.path),
           "deliver"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(platform.posts) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert 0 < len(platform.applied) < len(ids)
    platform.delay = 0.0
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert sorted(platform.applied) == sorted(ids)  # nothing lost
    # at most the one in flight at the kill was posted twice, and the key kept it applied once
    assert len(platform.posts) - len(ids) <= 1
    assert {i["status"] for i in _outbox(scored)} == {"delivered"}


def test_without_a_webhook_items_go_to_a_file(
    runner, scored: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [_record(scored, p) for p in _players(scored, 2)]
    db = str(scored.warehouse.duckdb.path)
    no_hook = invoke(runner, "--db", db, "deliver")
    assert no_hook.exit_code == 78 and "--pending-delivery" in no_hook.stderr
    monkeypatch.delenv("SENTINEL_WEBHOOK_SECRET", raising=False)
    no_secret = invoke(runner, "--db", db, "deliver",
                       env={"SENTINEL_DELIVERY__WEBHOOK_URL": "http://127.0.0.1:9/x"})  # fmt: skip
    assert no_secret.exit_code == 78 and "SENTINEL_WEBHOOK_SECRET" in no_secret.stderr
    out = tmp_path / "handoff" / "pending.json"
    result = invoke(runner, "--db", db, "export", "interventions", "--pending-delivery",
                    "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = json.loads(out.read_text())
    assert sorted(r["intervention_id"] for r in rows) == sorted(ids)
    assert {r["idempotency_key"] for r in rows} == set(ids)
    assert {i["channel"] for i in _outbox(scored)} == {f"file:{out}"}
    second = invoke(runner, "--db", db, "export", "interventions", "--pending-delivery",
                    "--out", "-")  # fmt: skip
    assert json.loads(second.stdout) == []
    scores = invoke(runner, "--db", db, "export", "scores", "--out", "-", "--category", "HIGH")
    assert scores.exit_code == 0


def test_report_finds_a_planted_timeout_breach_and_says_it_is_observational(
    runner, scored: Settings, tmp_path: Path
) -> None:
    breached, honoured = _players(scored, 2)
    start = AS_OF - timedelta(days=3)
    with connect(scored) as wh:
        for player in (breached, honoured):
            request = parse_request(
                player_id=player, intervention_type="timeout", duration_hours=24,
                reason="Cooling-off after late-night chasing", analyst_id="ana01",
            )  # fmt: skip
            create_intervention(wh, request, assess(wh, scored, player, now=utcnow()), now=start)
        wh.execute(  # the honoured player's own bets during the timeout are removed
            "delete from {raw}.bets where player_id = ? and placed_at >= ? and placed_at < ?",
            [honoured, start, start + timedelta(hours=24)],
        )
    planted = tmp_path / "planted.csv"
    at = start + timedelta(hours=5)
    planted.write_text(
        "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,status\n"
        f"PLANTED1,{breached},{at:%Y-%m-%d %H:%M:%S},,NBA,spread,true,2.0,250.00,,pending\n"
    )
    with connect(scored) as wh:
        assert ingest(wh, "bets", [planted]).accepted == 1
    result = invoke(runner, "--db", str(scored.warehouse.duckdb.path), "report",
                    "--interventions", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    breaches = {b["player_id"]: b for b in report["timeouts_not_honoured"]}
    assert breached in breaches and honoured not in breaches
    assert breaches[breached]["bets"] >= 1 and breaches[breached]["staked"] >= 250
    until = datetime.fromisoformat(breaches[breached]["timeout_until"])
    assert until == (start + timedelta(hours=24)).replace(tzinfo=UTC)
    assert "not causal" in report["note"]
    (timeout,) = report["by_type"]
    assert timeout["intervention_type"] == "timeout" and timeout["count"] == 2
    effect = {e["player_id"]: e for e in report["interventions"]}[breached]
    assert effect["bets_7d_after"] >= 1 and effect["composite_at_time"] is not None
    table = invoke(runner, "--db", str(scored.warehouse.duckdb.path), "report", "--interventions")
    assert "timeouts not honoured" in table.stdout and breached in table.stdout


def test_the_week_after_an_intervention_is_not_observed_until_it_has_ended(
    scored: Settings,
) -> None:
    """Issue #24: an intervention recorded seconds ago showed "bets 7 d after: 0, staked 0",
    which reads as a success."""
    from dk_sentinel.analysis.reporting import intervention_report

    (player,) = _players(scored, 1)
    created = AS_OF - timedelta(days=3)
    with connect(scored) as wh:
        request = parse_request(
            player_id=player, intervention_type="nudge", reason="Supportive check-in today",
            analyst_id="ana01",
        )  # fmt: skip
        create_intervention(wh, request, assess(wh, scored, player, now=utcnow()), now=created)
        types = ["self_exclusion"]
        soon = intervention_report(wh, types, now=created + timedelta(minutes=1))
        later = intervention_report(wh, types, now=created + timedelta(days=8))
    (effect,) = soon.interventions
    assert effect.bets_7d_after is None and effect.staked_7d_after is None
    assert effect.bets_7d_before > 0  # the week before is over: observed
    (summary,) = soon.by_type
    assert summary.with_7d_after == 0 and summary.mean_bets_7d_after is None
    (observed,) = later.interventions
    assert observed.bets_7d_after is not None and observed.staked_7d_after is not None
    assert later.by_type[0].with_7d_after == 1


def test_the_interventions_report_costs_the_same_queries_for_one_or_many(
    scored: Settings,
) -> None:
    """Issue #24: the report ran four queries per intervention."""
    from dk_sentinel.analysis.reporting import intervention_report

    class Counting:
        def __init__(self, wh: Any) -> None:
            self.wh, self.calls = wh, 0

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self.wh, name)
            if name in ("query", "query_dicts", "execute", "stage"):
                self.calls += 1
            return attr

    players = _players(scored, 4)
    counts = []
    with connect(scored) as wh:
        for n, player in enumerate(players, 1):
            request = parse_request(player_id=player, intervention_type="watchlist",
                                    reason="Counting the report's queries", analyst_id="ana01")  # fmt: skip
            create_intervention(wh, request, assess(wh, scored, player, now=utcnow()),
                                now=AS_OF - timedelta(days=10 - n))  # fmt: skip
            counting = Counting(wh)
            report = intervention_report(counting, ["self_exclusion"], now=AS_OF)  # type: ignore[arg-type]
            assert len(report.interventions) == n
            counts.append(counting.calls)
    assert len(set(counts)) == 1, counts
    assert report.interventions[0].bets_7d_before >= 0
    assert report.interventions[0].composite_7d_later is not None


def test_every_json_output_writes_timestamps_as_rfc_3339_utc(
    runner, scored: Settings, tmp_path: Path
) -> None:
    """Issue #24: `export scores` wrote "2026-12-03 10:00:00", the webhook payload
    "2026-12-04T10:25:48.153802" with no zone; the README promises UTC RFC 3339 everywhere."""
    import re

    rfc3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")
    (player,) = _players(scored, 1)
    with connect(scored) as wh:
        request = parse_request(
            player_id=player, intervention_type="timeout", duration_hours=24,
            reason="Cooling-off after late-night chasing", analyst_id="ana01",
        )  # fmt: skip
        create_intervention(wh, request, assess(wh, scored, player, now=utcnow()))
    db = str(scored.warehouse.duckdb.path)
    scores = invoke(runner, "--db", db, "export", "scores", "--out", "-")
    out = tmp_path / "scores.json"
    assert invoke(runner, "--db", db, "export", "scores", "--out", str(out)).exit_code == 0
    row, filed = json.loads(scores.stdout)[0], json.loads(out.read_text())[0]
    for document in (row, filed):
        for column in ("as_of", "scored_at", "last_bet_at"):
            assert rfc3339.match(document[column]), (column, document[column])
    payload = json.loads(_outbox(scored)[0]["payload"])
    for field in ("starts_at", "expires_at", "occurred_at"):
        assert rfc3339.match(payload[field]), (field, payload[field])


def test_a_deliverer_whose_lease_was_taken_over_records_nothing_more(
    scored: Settings, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#38: host B takes the deliver lease over while host A posts (A stalled past it): A's
    attempt is fenced off (exit 75, nothing recorded) and A posts nothing more; the item stays
    pending for B, under the same idempotency key (the platform applies it once)."""
    from dk_sentinel.errors import ExitCode, LeaseLost
    from dk_sentinel.interventions import delivery
    from dk_sentinel.warehouse.jobs import Lease

    for player in _players(scored, 3):
        _record(scored, player)
    monkeypatch.setenv("SENTINEL_WEBHOOK_SECRET", SECRET)
    settings = _with_webhook(scored, platform.url)
    with connect(settings) as wh:
        real_post = delivery._post

        def post_then_lose_the_lease(*args: Any) -> Any:
            answer = real_post(*args)
            assert Lease("deliver", 60).take(wh, force=True) is None  # host B takes it over
            return answer

        monkeypatch.setattr("dk_sentinel.interventions.delivery._post", post_then_lose_the_lease)
        with pytest.raises(LeaseLost) as lost:
            delivery.deliver(wh, settings)
        assert lost.value.exit_code == ExitCode.BUSY
        assert wh.query("select count(*) from {ops}.outbox_attempts")[0][0] == 0
        assert len(platform.posts) == 1  # A posted one item, then stopped
        assert {r["status"] for r in _outbox(settings)} == {"pending"}
    assert len(platform.applied) == 1
