"""The risk lookup of ``sentinel serve`` from memory: the warehouse's answer, kept current."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from dk_sentinel.analysis.published import assemble
from dk_sentinel.analysis.served import ServedAssessments
from dk_sentinel.config import Settings
from dk_sentinel.models import RiskAssessment
from dk_sentinel.scoring import SERVED_SCORES
from dk_sentinel.usecases.app import Sentinel
from dk_sentinel.warehouse import connect


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 12, 0)

    def __call__(self) -> datetime:
        return self.now


def _players(settings: Settings, n: int) -> list[str]:
    with connect(settings) as wh:
        return [r[0] for r in wh.query(
            f"select player_id from {SERVED_SCORES} order by composite_risk_score desc, "
            f"player_id limit {n}")]  # fmt: skip


def _held(served: ServedAssessments, player_id: str) -> RiskAssessment | None:
    """What the memory answers for the player (None: it sends the lookup to the warehouse)."""
    source = served.source(player_id)
    return None if source is None else assemble(source, Settings(), player_id)


def _from_warehouse(app: Sentinel, player_id: str) -> RiskAssessment:
    served, app.served = app.served, None
    try:
        return app.players.analyze(player_id)
    finally:
        app.served = served


def test_memory_answers_exactly_what_the_warehouse_answers(scored: Settings) -> None:
    app = Sentinel(scored, clock=Clock())
    served = app.serve_from_memory()
    players = _players(scored, 5)
    assert _held(served, players[0]) is None  # nothing held before the first poll
    served.refresh()
    assert served.run_id is not None
    for player in players:
        held = _held(served, player)
        assert held is not None and held.run_id == served.run_id
        assert held.model_dump_json() == _from_warehouse(app, player).model_dump_json()
    # a player the run did not score is read from the warehouse (here: not found)
    assert _held(served, "PLR_9999_NJ") is None
    explained = app.players.analyze(players[0], explain=True, use_ai=False)
    assert explained.ai_explanation and explained.explanation_source == "rules"


def test_a_write_through_the_server_shows_at_once_and_expiry_follows_the_clock(
    scored: Settings,
) -> None:
    clock = Clock()
    app = Sentinel(scored, clock=clock)
    served = app.serve_from_memory()
    served.refresh()
    player = _players(scored, 1)[0]
    assert app.players.analyze(player).open_interventions == []
    timeout = app.interventions.record(
        player_id=player, intervention_type="timeout", duration_hours=24,
        reason="Chasing losses after midnight", analyst_id="ana01", use_ai=False,
    )  # fmt: skip
    assert _held(served, player) is None  # the warehouse answers until the next poll
    assert [i.intervention_id for i in app.players.analyze(player).open_interventions] == [
        timeout.intervention_id
    ]
    served.refresh()
    held = _held(served, player)
    assert held is not None
    assert [i.intervention_id for i in held.open_interventions] == [timeout.intervention_id]
    clock.now += timedelta(hours=25)  # the timeout has ended: not open, without a poll
    held = _held(served, player)
    assert held is not None and held.open_interventions == []
    assert _from_warehouse(app, player).open_interventions == []


def test_a_new_intervention_sends_only_its_player_to_the_warehouse(scored: Settings) -> None:
    """The other players stay answered from memory, and a poll that finds the file unchanged
    still rereads what a write through this server left pending."""
    app = Sentinel(scored, clock=Clock())
    served = app.serve_from_memory()
    served.refresh()
    player, other = _players(scored, 2)
    app.interventions.record(
        player_id=player, intervention_type="watchlist", reason="Reviewed by the day shift",
        analyst_id="ana01", use_ai=False,
    )  # fmt: skip
    assert _held(served, player) is None
    assert _held(served, other) is not None
    served.refresh()
    held = _held(served, player)
    assert held is not None and [i.intervention_type for i in held.open_interventions] == [
        "watchlist"
    ]
    # a write whose mark lands after a poll already read the file it changed: the next poll
    # finds the file as it was, and rereads anyway
    served.interventions_changed(player)
    assert _held(served, player) is None
    served.refresh()
    assert _held(served, player) is not None
    served.interventions_changed()  # a cancel or a delivery: every player
    assert _held(served, other) is None
    served.refresh()
    assert _held(served, other) is not None


def test_a_change_made_elsewhere_is_picked_up_by_the_next_poll(scored: Settings) -> None:
    clock = Clock()
    server, other = Sentinel(scored, clock=clock), Sentinel(scored, clock=clock)
    served = server.serve_from_memory()
    served.refresh()
    player = _players(scored, 1)[0]
    other.interventions.record(
        player_id=player, intervention_type="watchlist", reason="Reviewed by the night shift",
        analyst_id="ana02", use_ai=False,
    )  # fmt: skip
    held = _held(served, player)
    assert held is not None and held.open_interventions == []  # until the poll (documented)
    served.refresh()
    held = _held(served, player)
    assert held is not None and [i.intervention_type for i in held.open_interventions] == [
        "watchlist"
    ]
    # a new live run replaces what is held; a run whose snapshot is missing is not served
    with connect(scored) as wh:
        wh.execute(
            "insert into {ops}.scoring_runs (run_id, started_at, finished_at, as_of, status) "
            "values ('later', ?, ?, ?, 'success')",
            [datetime(2030, 1, 1), datetime(2030, 1, 1, 0, 1), clock.now],
        )
    held_run = served.run_id
    served.refresh()  # its snapshot is not in place: the run held is still served ...
    assert served.run_id == held_run and _held(served, player) is not None
    served.max_stale_seconds = 0.0  # ... until the polls have failed for too long
    assert _held(served, player) is None


def test_the_server_polls_and_serves_from_memory(scored: Settings) -> None:
    from dk_sentinel.apikeys import create_key
    from dk_sentinel.server import create_app

    settings = scored.model_copy(deep=True)
    settings.api.served_refresh_seconds = 0.05
    with connect(settings) as wh:
        key = create_key(wh, "ana01", "analyst").api_key
    player = _players(settings, 1)[0]
    app = create_app(settings)
    with TestClient(app) as client:
        runtime = app.state.sentinel.runtime
        for _ in range(200):  # the first poll runs in the server's thread
            if runtime.app.served.run_id:
                break
            time.sleep(0.02)
        assert _held(runtime.app.served, player) is not None
        headers = {"X-API-Key": key}
        before = client.get(f"/api/players/{player}/risk", headers=headers)
        assert before.status_code == 200 and before.json()["open_interventions"] == []
        made = client.post("/api/interventions", headers=headers, json={
            "player_id": player, "intervention_type": "watchlist",
            "reason": "Watch the late-night deposits"})  # fmt: skip
        assert made.status_code == 201, made.text
        after = client.get(f"/api/players/{player}/risk", headers=headers)
        assert [i["intervention_id"] for i in after.json()["open_interventions"]] == [
            made.json()["intervention_id"]
        ]
    assert not runtime._poller.is_alive()


@pytest.mark.parametrize("seconds, held", [(0, False), (None, True)])
def test_served_refresh_seconds_zero_reads_the_warehouse_every_time(
    scored: Settings, seconds: float | None, held: bool
) -> None:
    from dk_sentinel.usecases.server import ServerRuntime

    settings = scored.model_copy(deep=True)
    settings.api.served_refresh_seconds = seconds
    runtime = ServerRuntime(settings)
    assert (runtime.app.served is not None) is held
    runtime.stop()
    assert settings.api.refresh_seconds("snowflake") == (30.0 if seconds is None else 0)


def test_a_poll_between_the_two_snapshot_tables_finds_the_money_later(replayed: Settings) -> None:
    """The money snapshot is replaced after the scores': a poll in between finds it later."""
    from dk_sentinel.scoring import SERVED_MONEY

    app = Sentinel(replayed, clock=Clock())
    served = app.serve_from_memory()
    with connect(replayed) as wh:
        player, run_id = wh.query(
            f"select player_id, run_id from {SERVED_MONEY} where money_deposits_90d > 0 "
            "order by player_id limit 1"
        )[0]
        wh.execute(f"update {SERVED_MONEY} set run_id = 'previous'")
    served.refresh()
    held = _held(served, player)
    assert held is not None and held.money is None
    with connect(replayed) as wh:
        wh.execute(f"update {SERVED_MONEY} set run_id = ?", [run_id])
    served.refresh()
    held = _held(served, player)
    assert held is not None and held.money is not None and held.money.windows[-1].deposits > 0
    assert held.model_dump_json() == _from_warehouse(app, player).model_dump_json()


def test_an_unwritten_file_is_not_opened_and_failing_polls_end_memory_serving(
    scored: Settings,
) -> None:
    from contextlib import contextmanager

    from dk_sentinel.warehouse.duckdb import file_stamp

    opened = []

    @contextmanager
    def counting():  # type: ignore[no-untyped-def]
        opened.append(1)
        with connect(scored) as wh:
            yield wh

    path = scored.warehouse.duckdb.path
    served = ServedAssessments(counting, Clock(), lambda: file_stamp(path))
    player = _players(scored, 1)[0]
    served.refresh()
    served.refresh()  # nothing written since: the file is not opened
    assert len(opened) == 1 and _held(served, player) is not None
    with connect(scored) as wh:  # a write elsewhere: the next poll looks
        wh.execute("insert into {ops}.intervention_events values "
                   "('E1', 'I1', ?, 'created', ?, 'ana01', 'test')", [player, Clock()()])  # fmt: skip
    served.refresh()
    assert len(opened) == 2
    served.max_stale_seconds = 0.0  # polls failing for longer than this: read the warehouse
    assert _held(served, player) is None


def test_an_idle_server_does_not_poll(scored: Settings) -> None:
    """No lookup since the last poll: no query (a Snowflake warehouse can suspend)."""
    app = Sentinel(scored, clock=Clock())
    served = app.serve_from_memory()
    player = _players(scored, 1)[0]
    served.poll()  # nothing held yet: loads
    assert served.run_id is not None
    with connect(scored) as wh:  # a write, so a refresh would look
        wh.execute("insert into {ops}.intervention_events values "
                   "('E2', 'I2', ?, 'created', ?, 'ana01', 'test')", [player, Clock()()])  # fmt: skip
    marks = served._state.marks if served._state else None
    served.poll()  # idle: nothing read
    assert served._state is not None and served._state.marks == marks
    assert _held(served, player) is not None  # a lookup: the next poll looks
    served.poll()
    assert served._state is not None and served._state.marks != marks


def test_a_warehouse_scored_before_rg_latest_run_still_answers(scored: Settings) -> None:
    """A warehouse an earlier release scored has no view rg_latest_run until its next
    score-batch: analyze still answers from the published history (not current, no run
    time), and the next run builds the view."""
    app = Sentinel(scored, clock=Clock())
    player = _players(scored, 1)[0]
    with connect(scored) as wh:
        wh.execute("drop view {analytics}.rg_latest_risk_scores")
        wh.execute("drop view {analytics}.rg_latest_run")
    assessment = app.players.analyze(player)
    assert assessment.player_id == player and not assessment.is_current
    assert assessment.freshness.last_run_finished_at is None
    assert app.scoring.run(full_refresh=True).status == "success"
    again = app.players.analyze(player)
    assert again.is_current and again.freshness.last_run_finished_at is not None
