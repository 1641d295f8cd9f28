"""Many `sentinel` processes against one embedded warehouse: they queue for DuckDB's file lock."""

import os
import subprocess
import sys
from pathlib import Path

from dk_sentinel.config import Settings
from dk_sentinel.warehouse import connect


def _players(settings: Settings, n: int) -> list[str]:
    with connect(settings) as wh:
        return [
            r[0]
            for r in wh.query(
                "select player_id from {analytics}.rg_latest_risk_scores order by player_id limit ?",
                [n],
            )
        ]


def _start(settings: Settings, player: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dk_sentinel", "--db", str(settings.warehouse.duckdb.path), "intervene", player,
         "--type", "watchlist", "--reason", "Concurrent load test", "--analyst", "load01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(extra)
    return env


def test_fifty_concurrent_interventions_all_succeed(scored: Settings) -> None:
    players = _players(scored, 50)
    procs = [
        _start(scored, p, _env(SENTINEL_WAREHOUSE__BUSY_TIMEOUT_SECONDS="60")) for p in players
    ]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0] * 50, [err for code, err in results if code][:3]
    with connect(scored) as wh:
        stored = wh.query("select player_id, count(*) from {ops}.interventions group by 1")
        events = wh.query("select count(*) from {ops}.intervention_events")[0][0]
    assert sorted(p for p, _ in stored) == sorted(players)  # none lost
    assert all(n == 1 for _, n in stored) and events == 50  # none duplicated


def test_too_short_a_busy_timeout_gives_75_and_nothing_half_written(
    scored: Settings, tmp_path: Path
) -> None:
    players = _players(scored, 30)
    procs = [_start(scored, p, _env(SENTINEL_WAREHOUSE__BUSY_TIMEOUT_SECONDS="0")) for p in players]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    codes = [code for code, _ in results]
    assert set(codes) <= {0, 75}
    for code, err in results:
        if code == 75:
            assert "is locked by" in err and "retry" in err.lower() and "Traceback" not in err
    with connect(scored) as wh:
        stored = wh.query("select count(*) from {ops}.interventions")[0][0]
        events = wh.query("select count(*) from {ops}.intervention_events")[0][0]
    assert stored == events == codes.count(0)


def test_analyze_waits_for_a_busy_warehouse(scored: Settings, tmp_path: Path) -> None:
    player = _players(scored, 1)[0]
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb,time; c=duckdb.connect({str(scored.warehouse.duckdb.path)!r}); print('held', flush=True); time.sleep(2); c.close()"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    waited = subprocess.run(
        [sys.executable, "-m", "dk_sentinel", "--db", str(scored.warehouse.duckdb.path), "analyze", player, "-f", "json"],
        capture_output=True, text=True, env=_env(SENTINEL_WAREHOUSE__BUSY_TIMEOUT_SECONDS="20"),
    )  # fmt: skip
    holder.wait()
    assert waited.returncode == 0 and "waiting for the warehouse" in waited.stderr
    assert '"player_id"' in waited.stdout
