"""Scoring benchmark on the embedded default: `python bench/bench_scoring.py --players 100000`.

About 100 bets per player over 90 days (100k players ~ 10M bets). Every figure of the scoring
cost table, each ratio from this one run, in both operating modes:

- cron (a fresh `sentinel score-batch` process per run, dbt in a child): the first run on a
  new warehouse (builds the derived tables), a `--full-refresh` (rebuilds them from raw.bets),
  an hourly run after 100k new bets, a skipped run, peak RSS of the process tree;
- resident (`sentinel serve --schedule`: dbt kept loaded, ResidentDbt): a full refresh and the
  hourly run after the same 100k new bets, from the same warehouse state;
- the fixed cost of a run in both modes (a 2,000-player warehouse), against dbt's import;
- one hand-written DuckDB query of the features (the floor the SQL is compared with);
- a full refresh and an hourly run with 360 days of history instead of 90 (same windows);
- `sentinel ingest` of the 10M-row CSV against DuckDB's own typed load of the same file;
- a full refresh of this checkout against an earlier commit's (``--ref``, alternating fresh
  processes on copies of one warehouse);
- `GET /api/players/{id}/risk` and analyze-player against `GET /health` on the scored
  warehouse (bench_api.measure: the server pinned to one core, the clients on the other).

At the end it prints the table of the scoring-cost issue: each measure, cron and resident,
its target and whether it is met.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_api
from _util import run_timed, save, sentinel
from compare_versions import source_at

AS_OF = "2026-11-01T00:00:00"

# The features of the dbt models, written by hand as one DuckDB query over raw.bets (local time
# from the seed tables dbt loaded), materialised with every column so that the optimiser cannot
# drop a feature nobody reads (an earlier version let it skip the medians).
BARE_QUERY = """
create or replace temp table bare_features as
with w as (
    select b.*, case when placed_at > timestamp '{as_of}' - interval 14 day then 'recent' else 'baseline' end as win,
        case when settled_at <= timestamp '{as_of}' and status <> 'pending' then settled_at end as settled,
        case when settled_at <= timestamp '{as_of}' and status not in ('pending', 'void', 'push')
             then case when payout < stake then 'loss' when payout > stake then 'win' end end as outcome,
        placed_at + to_hours(cast(coalesce(tz.utc_offset_hours, -5) + case when coalesce(tz.observes_dst, true)
            and placed_at >= dst.dst_starts_at and placed_at < dst.dst_ends_at then 1 else 0 end as bigint)) as local_at,
        hour(local_at) < 6 as late, is_live, odds_decimal >= 5 as longshot,
        sport not in ('NFL','NBA','MLB','NHL','NCAAF','NCAAB','SOCCER','TENNIS','GOLF') as niche,
        cast(local_at as date) as day, cast(stake as double) as amount
    from raw.bets b
    left join analytics.state_timezones tz on tz.state = right(b.player_id, 2)
    left join analytics.us_dst_periods dst on dst.dst_year = year(b.placed_at)
    where placed_at <= timestamp '{as_of}' and placed_at > timestamp '{as_of}' - interval 90 day
),
p as (
    select player_id, max(placed_at) as last_bet, count(*) filter (win = 'recent') as rn, count(*) filter (win = 'baseline') as bn,
        median(amount) filter (win = 'recent') as rm, median(amount) filter (win = 'baseline') as bm,
        count(*) filter (win = 'recent' and late) as rl, count(*) filter (win = 'baseline' and late) as bl,
        count(*) filter (win = 'recent' and is_live) as rlive, count(*) filter (win = 'baseline' and is_live) as blive,
        count(*) filter (win = 'recent' and niche) as rniche, count(*) filter (win = 'baseline' and niche) as bniche,
        count(*) filter (win = 'recent' and longshot) as rls, count(*) filter (win = 'baseline' and longshot) as bls
    from w group by player_id
),
s as (
    select w.player_id, w.bet_id, w.outcome, coalesce(p.bm, p.rm) as ref, w.settled from w join p using (player_id)
    where w.outcome is not null and w.settled > timestamp '{as_of}' - interval 14 day
),
f as (
    select s.player_id, s.bet_id, s.outcome, s.ref, max(case when n.amount >= 1.5 * s.ref then 1 else 0 end) as bigger,
        min(case when n.amount >= 1.5 * s.ref then epoch(n.placed_at) - epoch(s.settled) end) / 60.0 as minutes,
        max(n.amount) as next_max
    from s left join w n on n.player_id = s.player_id and n.bet_id <> s.bet_id
        and n.placed_at > s.settled and n.placed_at <= s.settled + interval 60 minute
        and n.placed_at > timestamp '{as_of}' - interval 14 day - interval 60 minute
    group by all
),
c as (select player_id, count(*) filter (outcome = 'loss') as losses, sum(bigger) filter (outcome = 'loss') as chased,
        count(*) filter (outcome = 'win') as wins, sum(bigger) filter (outcome = 'win') as win_bigger,
        median(minutes) filter (outcome = 'loss' and bigger = 1) as minutes_to_chase,
        median(next_max / ref) filter (outcome = 'loss' and bigger = 1) as chase_ratio from f group by 1),
d as (select player_id, day, sum(amount) as staked, max(win = 'recent')::int as r,
        max(win = 'baseline')::int as b from w group by 1, 2),
t as (select player_id, regr_slope(ln(staked), day - date '2000-01-01') as slope, sum(r) as rd,
        sum(b) as bd from d group by 1),
sp as (select player_id, sport, count(*) filter (win = 'recent') as r, count(*) filter (win = 'baseline') as b
       from w group by 1, 2),
ns as (select player_id, sum(r) filter (b = 0) as new_sport_bets from sp group by 1)
select * from p left join c using (player_id) left join t using (player_id) left join ns using (player_id)
"""


def generated(folder: Path, players: int, days: int = 90) -> Path:
    """The folder, with ``days`` of generated contract files for ``players`` (made once)."""
    if not (folder / "bets.csv").exists():
        subprocess.run(sentinel("generate", "--out", str(folder), "--players", str(players), "--days", str(days),
                                "--seed", "1", "--as-of", "2026-11-01"), check=True)  # fmt: skip
    return folder


def median_seconds(args: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``runs`` fresh processes."""
    return statistics.median(run_timed(args, env)["seconds"] for _ in range(runs))


def fresh_warehouse(data: Path, name: str, env: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    """A new warehouse in ``data`` with its bets (timed) and assessments loaded."""
    db = data / name
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    base = sentinel("--db", str(db), "-q")
    subprocess.run([*base, "init"], check=True, env=env)
    loaded = run_timed([*base, "ingest", "bets", str(data / "bets.csv")], env)
    assert loaded["exit_code"] == 0, loaded["stderr"]
    subprocess.run([*base, "ingest", "assessments", str(data / "assessments.csv")], check=True,
                   env=env)  # fmt: skip
    return db, loaded


def score(db: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """A cron score-batch of ``db`` (a fresh process), which must succeed."""
    run = run_timed(sentinel("--db", str(db), "-q", "score-batch", "-f", "json", *extra), env)
    assert run["exit_code"] == 0, run["stderr"]
    return run


# Resident mode (`sentinel serve --schedule`): one process keeps dbt loaded (ResidentDbt: the
# manifest parsed once) and runs score_batch again and again. Modes: "fixed" (four runs of a
# small warehouse), "full" (a warm-up run, then a full refresh, then the new bets loaded and
# an hourly run). Prints the seconds of each step.
RESIDENT = """
import json, sys, time
from datetime import datetime
from dk_sentinel.config import load_settings
from dk_sentinel.ingest import ingest
from dk_sentinel.scoring import score_batch
from dk_sentinel.scoring.dbt import ResidentDbt
from dk_sentinel.warehouse import connect
db, mode = sys.argv[1], sys.argv[2]
settings = load_settings(overrides={"warehouse.duckdb.path": db})
dbt, seconds = ResidentDbt(), {}
def timed(name, **kw):
    started = time.perf_counter()
    run = score_batch(settings, dbt=dbt, **kw)
    assert run.status == "success", run.error
    seconds.setdefault(name, []).append(time.perf_counter() - started)
as_of = datetime(2026, 11, 1)
if mode == "fixed":
    for _ in range(4):
        timed("run", as_of=as_of)
else:
    timed("warm_up", as_of=as_of)
    timed("full_refresh", as_of=as_of, full_refresh=True)
    with connect(settings) as wh:
        ingest(wh, "bets", [sys.argv[3]])
    timed("hourly", as_of=datetime(2026, 11, 1, 1))
print(json.dumps({"seconds": seconds, "parses": dbt.parses}))
"""


def resident(db: Path, env: dict[str, str], mode: str, *extra: str) -> dict[str, Any]:
    """Run the resident script in a fresh process: its step times, parses and peak RSS."""
    run = run_timed([sys.executable, "-c", RESIDENT, str(db), mode, *extra], env)
    assert run["exit_code"] == 0, run["stderr"]
    result = json.loads(run["stdout"].strip().splitlines()[-1])
    assert result["parses"] == 1, result  # the manifest was reused by the later runs
    return {**result, "peak_rss_mib": run["peak_rss_mib"]}


TYPED_LOAD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], config={"threads": 2, "memory_limit": sys.argv[3]})
con.execute("set enable_progress_bar = false")
started = time.perf_counter()
con.execute(f\"\"\"create table bets as select * from read_csv('{sys.argv[2]}', header = true,
    columns = {{'bet_id': 'VARCHAR', 'player_id': 'VARCHAR', 'placed_at': 'TIMESTAMP',
    'settled_at': 'TIMESTAMP', 'sport': 'VARCHAR', 'market': 'VARCHAR', 'is_live': 'BOOLEAN',
    'odds_decimal': 'DECIMAL(10,3)', 'stake': 'DECIMAL(14,2)', 'payout': 'DECIMAL(14,2)',
    'status': 'VARCHAR'}})\"\"\")
print(time.perf_counter() - started)
"""


def typed_load(data: Path, memory_limit: str) -> float:
    """Seconds for DuckDB's own typed load of the bets CSV into a new file (no validation)."""
    db = data / "typed.duckdb"
    db.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-c", TYPED_LOAD, str(db), str(data / "bets.csv"),
                          memory_limit], capture_output=True, text=True, check=True)  # fmt: skip
    db.unlink(missing_ok=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--history-players", type=int, default=20_000,
                        help="players of the 90- vs 360-day comparison (4x the bets at 360)")  # fmt: skip
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--memory-limit", default="1.8GB")
    parser.add_argument("--ref", default="c43f586",
                        help="the earlier commit whose full refresh is compared")  # fmt: skip
    parser.add_argument("--api-requests", type=int, default=200, help="per client, 20 clients")
    args = parser.parse_args()
    data = generated(args.dir / f"players_{args.players}", args.players)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(data / ".cache"),
        "SENTINEL_WAREHOUSE__DUCKDB__MEMORY_LIMIT": args.memory_limit,
    }
    typed = typed_load(data, args.memory_limit)
    db, loaded = fresh_warehouse(data, "score.duckdb", env)
    first = score(db, env, "--as-of", AS_OF)  # builds the derived tables
    full = score(db, env, "--as-of", AS_OF, "--full-refresh")  # rebuilds them from raw.bets
    shutil.copy(db, data / "resident.duckdb")  # the resident mode starts from the same state

    import duckdb

    con = duckdb.connect(str(db), config={"threads": 2, "memory_limit": args.memory_limit})
    started = time.perf_counter()
    con.execute(BARE_QUERY.format(as_of=AS_OF.replace("T", " ")))
    bare = time.perf_counter() - started
    bets = con.execute("select count(*) from raw.bets").fetchone()[0]
    # 100k new bets in the next hour, copied from existing players (an hourly cron run)
    new_file = data / "new_bets.csv"
    con.execute(
        f"""copy (select 'N' || bet_id as bet_id, player_id,
                strftime(timestamp '{AS_OF.replace("T", " ")}' + to_seconds(cast(random() * 3600 as bigint)), '%Y-%m-%dT%H:%M:%S') as placed_at,
                null as settled_at, sport, market, is_live, odds_decimal, stake, null as payout, 'pending' as status
            from raw.bets using sample 100000 rows (reservoir, 7)) to '{new_file}' (header)"""
    )
    con.close()
    subprocess.run(sentinel("--db", str(db), "-q", "ingest", "bets", str(new_file)), check=True,
                   env=env)  # fmt: skip
    hourly = score(db, env, "--as-of", "2026-11-01T01:00:00")
    skipped = score(db, env)
    queue = subprocess.run(
        sentinel("--db", str(db), "-q", "queue", "--limit", "1", "-f", "json"),
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    player = json.loads(queue.stdout)["items"][0]["player_id"]
    latency = median_seconds(
        sentinel("--db", str(db), "-q", "analyze", player, "-f", "json"), 7, env
    )
    kept = resident(data / "resident.duckdb", env, "full", str(new_file))

    # the fixed cost: a 2,000-player warehouse, where the SQL takes almost nothing
    small = generated(args.dir / "players_2000", 2000)
    small_env = {**env, "XDG_CACHE_HOME": str(small / ".cache")}
    small_db, _ = fresh_warehouse(small, "small.duckdb", small_env)
    score(small_db, small_env, "--as-of", AS_OF)  # first run: parses, builds
    fixed = statistics.median(
        score(small_db, small_env, "--as-of", AS_OF)["seconds"] for _ in range(3)
    )
    resident_fixed = statistics.median(resident(small_db, small_env, "fixed")["seconds"]["run"][1:])
    python = [sys.executable, "-c"]
    dbt_import = median_seconds([*python, "import dbt.cli.main"], 3)
    libraries = median_seconds([*python, "import typer, pydantic_settings, duckdb, filelock"], 7)

    # cost against the history held: the same players and windows, 90 vs 360 days of bets
    history = {}
    for days in (90, 360):
        folder = generated(args.dir / f"history_{args.history_players}_{days}d",
                           args.history_players, days)  # fmt: skip
        h_env = {**env, "XDG_CACHE_HOME": str(folder / ".cache")}
        h_db, _ = fresh_warehouse(folder, "history.duckdb", h_env)
        score(h_db, h_env, "--as-of", AS_OF)
        history[days] = {
            "full_refresh": score(h_db, h_env, "--as-of", AS_OF, "--full-refresh")["seconds"],
            "hourly_no_new_bets": score(h_db, h_env, "--as-of", "2026-11-01T01:00:00")["seconds"],
        }

    # an earlier version's full refresh of the same bets, in a warehouse it loaded itself (an
    # older sentinel refuses a newer schema), alternating runs
    earlier_env = {**env, "PYTHONPATH": str(source_at(args.ref, data / f"src_{args.ref}")),
                   "XDG_CACHE_HOME": str(data / ".cache_earlier")}  # fmt: skip
    earlier_db, _ = fresh_warehouse(data, "earlier.duckdb", earlier_env)
    subprocess.run(sentinel("--db", str(earlier_db), "-q", "ingest", "bets", str(new_file)),
                   check=True, env=earlier_env)  # fmt: skip
    pair: dict[str, list[float]] = {"current": [], "earlier": []}
    for _ in range(2):
        pair["current"].append(score(db, env, "--as-of", AS_OF, "--full-refresh")["seconds"])
        pair["earlier"].append(
            score(earlier_db, earlier_env, "--as-of", AS_OF, "--full-refresh")["seconds"]
        )
    earlier_db.unlink()
    current_full, earlier_full = (statistics.median(v) for v in pair.values())

    # the read path on the scored 10M-bet warehouse
    api = bench_api.measure(db, requests=args.api_requests, env=env)

    secs = kept["seconds"]
    results = save(
        f"scoring_{args.players}",
        {
            "command": f"python bench/bench_scoring.py --players {args.players}",
            "players": args.players,
            "bets": bets,
            "memory_limit": args.memory_limit,
            "cron": {
                "fixed_cost_seconds_2000_players": round(fixed, 2),
                "dbt_import_seconds": round(dbt_import, 2),
                "ratio_fixed_to_dbt_import": round(fixed / dbt_import, 2),
                "first_run_new_warehouse_seconds": round(first["seconds"], 2),
                "full_refresh_seconds": round(full["seconds"], 2),
                "bare_duckdb_query_seconds": round(bare, 2),
                "ratio_full_refresh_to_bare": round(full["seconds"] / bare, 2),
                "hourly_run_100k_new_bets_seconds": round(hourly["seconds"], 2),
                "ratio_hourly_to_cron_full_refresh": round(hourly["seconds"] / full["seconds"], 3),
                "skipped_run_seconds": round(skipped["seconds"], 2),
                "peak_rss_mib": round(max(r["peak_rss_mib"] for r in (first, full, hourly))),
            },
            "resident": {
                "fixed_cost_seconds_2000_players": round(resident_fixed, 2),
                "ratio_fixed_to_dbt_import": round(resident_fixed / dbt_import, 2),
                "full_refresh_seconds": round(secs["full_refresh"][0], 2),
                "ratio_full_refresh_to_bare": round(secs["full_refresh"][0] / bare, 2),
                "hourly_run_100k_new_bets_seconds": round(secs["hourly"][0], 2),
                "ratio_hourly_to_cron_full_refresh": round(secs["hourly"][0] / full["seconds"], 3),
                "peak_rss_mib": round(kept["peak_rss_mib"]),
            },
            "history": {
                "players": args.history_players,
                **{
                    f"full_refresh_seconds_{d}_days": round(h["full_refresh"], 2)
                    for d, h in history.items()
                },
                "ratio_full_refresh_360_to_90_days": round(
                    history[360]["full_refresh"] / history[90]["full_refresh"], 2
                ),
                **{
                    f"hourly_seconds_{d}_days": round(h["hourly_no_new_bets"], 2)
                    for d, h in history.items()
                },
                "ratio_hourly_360_to_90_days": round(
                    history[360]["hourly_no_new_bets"] / history[90]["hourly_no_new_bets"], 2
                ),
            },
            "ingest": {
                "ingest_seconds": round(loaded["seconds"], 2),
                "rows_per_second": round(bets / loaded["seconds"]) if bets else None,
                "duckdb_typed_load_seconds": round(typed, 2),
                "ratio_speed_ingest_to_typed_load": round(typed / loaded["seconds"], 2),
                "peak_rss_mib": round(loaded["peak_rss_mib"]),
            },
            "earlier_version": {
                "ref": args.ref,
                "full_refresh_seconds": pair,
                "ratio_full_refresh_to_earlier": round(current_full / earlier_full, 2),
            },
            "api": api,
            "analyze_latency_seconds_median": round(latency, 3),
            "library_import_seconds_median": round(libraries, 3),
        },
        echo=False,
    )
    print_table(json.loads(results.read_text()))


def _row(measure: str, cron: str, resident: str, target: str, met: bool | None) -> None:
    verdict = "" if met is None else ("met" if met else "NOT MET")
    print(f"| {measure} | {cron} | {resident} | {target} | {verdict} |")


def print_table(r: dict[str, Any]) -> None:
    """The scoring-cost table: every measure of one run, cron and resident, with its target."""
    cron, res, hist, ing, old = (
        r["cron"],
        r["resident"],
        r["history"],
        r["ingest"],
        r["earlier_version"],
    )
    api = r["api"]
    health, risk, analyze = api["health"], api["risk"], api["analyze_idle"]
    print(f"\n{r['bets']:,} bets, {r['players']:,} players; {r['machine']}\n")
    print("| measure | cron | resident | target | |")
    print("|---|---|---|---|---|")
    _row("full refresh vs one hand-written DuckDB query "
         f"({cron['bare_duckdb_query_seconds']} s)",
         f"{cron['full_refresh_seconds']} s = {cron['ratio_full_refresh_to_bare']}x",
         f"{res['full_refresh_seconds']} s = {res['ratio_full_refresh_to_bare']}x",
         "<= 1.5x", cron["ratio_full_refresh_to_bare"] <= 1.5)  # fmt: skip
    _row(f"full refresh vs the earlier version {old['ref']} (same data, alternating)",
         f"{old['ratio_full_refresh_to_earlier']}x", "", "<= 1.0x",
         old["ratio_full_refresh_to_earlier"] <= 1.0)  # fmt: skip
    _row("hourly run after 100k new bets vs the cron full refresh",
         f"{cron['hourly_run_100k_new_bets_seconds']} s = "
         f"{cron['ratio_hourly_to_cron_full_refresh']}x",
         f"{res['hourly_run_100k_new_bets_seconds']} s = "
         f"{res['ratio_hourly_to_cron_full_refresh']}x",
         "<= 0.25x cron, <= 0.1x resident",
         cron["ratio_hourly_to_cron_full_refresh"] <= 0.25
         and res["ratio_hourly_to_cron_full_refresh"] <= 0.1)  # fmt: skip
    _row(f"fixed cost (2,000 players) vs `import dbt.cli.main` ({cron['dbt_import_seconds']} s)",
         f"{cron['fixed_cost_seconds_2000_players']} s = {cron['ratio_fixed_to_dbt_import']}x",
         f"{res['fixed_cost_seconds_2000_players']} s = {res['ratio_fixed_to_dbt_import']}x",
         "<= 1.8x", cron["ratio_fixed_to_dbt_import"] <= 1.8)  # fmt: skip
    _row(f"full refresh, 360 days of history vs 90 ({hist['players']:,} players)",
         f"{hist['ratio_full_refresh_360_to_90_days']}x (hourly "
         f"{hist['ratio_hourly_360_to_90_days']}x)", "", "<= 1.2x",
         hist["ratio_full_refresh_360_to_90_days"] <= 1.2)  # fmt: skip
    _row(f"`sentinel ingest bets` vs DuckDB's typed load ({ing['duckdb_typed_load_seconds']} s)",
         f"{ing['ingest_seconds']} s = {ing['ratio_speed_ingest_to_typed_load']}x its speed",
         "", ">= 0.5x", ing["ratio_speed_ingest_to_typed_load"] >= 0.5)  # fmt: skip
    p50, rps = risk["p50_ms"] / health["p50_ms"], risk["requests_per_second"] / health[
        "requests_per_second"]  # fmt: skip
    _row(f"`GET /api/players/{{id}}/risk`, 20 clients, vs `GET /health` "
         f"(p50 {health['p50_ms']} ms, {health['requests_per_second']} req/s)",
         f"p50 {risk['p50_ms']} ms = {p50:.2f}x, {risk['requests_per_second']} req/s = "
         f"{rps:.2f}x", "", "p50 <= 2x, throughput >= 0.5x", p50 <= 2 and rps >= 0.5)  # fmt: skip
    _row("`POST /api/analytics/analyze-player` (rules explanation), same harness",
         f"p50 {analyze['p50_ms']} ms = {analyze['p50_ms'] / health['p50_ms']:.2f}x, "
         f"{analyze['requests_per_second']} req/s", "", "", None)  # fmt: skip
    _row("peak RSS at 10M bets", f"{cron['peak_rss_mib']} MiB", f"{res['peak_rss_mib']} MiB",
         "<= 2 GB", max(cron["peak_rss_mib"], res["peak_rss_mib"]) <= 2048)  # fmt: skip


if __name__ == "__main__":
    main()
