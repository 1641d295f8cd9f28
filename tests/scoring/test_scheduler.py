"""The resident scheduler of `sentinel serve --schedule` (dbt in-process, the scoring lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import AS_OF
from dk_sentinel.config import Settings
from dk_sentinel.errors import UsageError
from dk_sentinel.ingest import ingest
from dk_sentinel.scoring.scheduler import Scheduler
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.jobs import cache_dir


def _new_bets(settings: Settings, tmp_path: Path) -> None:
    with connect(settings) as wh:
        player = wh.query("select min(player_id) from {raw}.bets")[0][0]
    fresh = tmp_path / "fresh.csv"
    fresh.write_text(
        "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,"
        "status\n"
        f"FRESH1,{player},{AS_OF:%Y-%m-%d} 10:00:00,,NBA,spread,true,2.0,25.00,,pending\n"
    )
    with connect(settings) as wh:
        assert ingest(wh, "bets", [fresh]).accepted == 1


def test_invalid_expression_is_a_usage_error(db_settings: Settings) -> None:
    with pytest.raises(UsageError, match="invalid schedule"):
        Scheduler("every hour", lambda: None)  # type: ignore[arg-type,return-value]


def test_scheduled_run_is_on_time_and_a_cron_run_meanwhile_exits_75(
    scored: Settings, tmp_path: Path
) -> None:
    _new_bets(scored, tmp_path)
    key = Sentinel(scored).keys.create("viewer01", "viewer").api_key
    holder = cache_dir(scored) / "score-batch.holder.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    with TestClient(create_app(scored, schedule="* * * * * */3")) as client:
        assert client.get("/health").json()["schedule"]["expression"] == "* * * * * */3"
        deadline = time.monotonic() + 30
        while not holder.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert holder.exists(), "no scheduled run started within 30 s"
        cron = subprocess.run(
            [sys.executable, "-m", "dk_sentinel", "--db", str(scored.warehouse.duckdb.path),
             "score-batch"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        while client.get("/health").json()["schedule"]["runs"] < 1:
            assert time.monotonic() < deadline + 120, "the scheduled run did not finish"
            time.sleep(0.2)
        status = client.get("/health").json()["schedule"]
        runs = client.get("/api/runs", headers={"X-API-Key": key}).json()["items"]
    assert cron.returncode == 75, cron.stderr
    assert "another score-batch is running" in cron.stderr
    # the run that scored the new bet (a later tick may already have found nothing new)
    assert status["runs"] >= 1
    scheduled = next(r for r in runs if r["status"] != "skipped" and r["kind"] == "live")
    assert scheduled["status"] == "success", scheduled["error"]
    assert scheduled["new_bets"] == 1
    started = datetime.fromisoformat(scheduled["started_at"])
    assert started.second % 3 in (0, 1)  # on the tick (whole seconds, within a second)


@pytest.mark.slow  # waits on real clocks for seconds
def test_ticks_missed_during_a_run_are_coalesced_and_stop_waits_up_to_its_timeout(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from dk_sentinel.models import BatchRun, utcnow
    from dk_sentinel.scoring import scheduler as module

    running, release, calls = threading.Event(), threading.Event(), []

    def slow_batch() -> BatchRun:
        calls.append(utcnow())
        running.set()
        release.wait(10)
        return BatchRun(run_id=f"R{len(calls)}", status="success", started_at=utcnow(),
                        as_of=utcnow(), scoring_version="test")  # fmt: skip

    every_second = module.Scheduler("* * * * * *", slow_batch)
    every_second.start()
    assert running.wait(5)
    time.sleep(2.5)  # two or three ticks pass while the first run is still going
    assert every_second.stop(timeout=0.2) is False  # the batch outlives a short shutdown
    release.set()
    assert every_second.stop(timeout=5) is True
    assert len(calls) == 1  # the missed ticks were not queued behind it...
    assert every_second.status.coalesced_ticks >= 2  # ...but counted as coalesced
    assert every_second.status.runs == 1 and every_second.status.last_run_id == "R1"


def test_a_tick_finding_the_scoring_lock_held_is_skipped(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dk_sentinel.errors import BusyError
    from dk_sentinel.models import BatchRun
    from dk_sentinel.scoring import scheduler as module

    def held() -> BatchRun:
        raise BusyError("another score-batch is running (pid 1)")

    ticker = module.Scheduler("5 * * * *", held)
    assert ticker.tick() is None
    assert ticker.status.skipped_busy == 1 and ticker.status.runs == 0


@pytest.mark.slow
def test_resident_dbt_runs_the_project_again_and_again_on_one_parse(scored: Settings) -> None:
    """Every resident run compiles the whole project (ephemeral models too) from one parse."""
    from dk_sentinel.scoring import score_batch
    from dk_sentinel.scoring.dbt import ResidentDbt

    dbt = ResidentDbt()
    runs = [score_batch(scored, dbt=dbt, as_of=AS_OF, full_refresh=True) for _ in range(2)]
    assert [r.status for r in runs] == ["success", "success"], [r.error for r in runs]
    assert dbt.parses == 1 and runs[1].players_scored == runs[0].players_scored > 0
