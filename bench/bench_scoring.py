"""Scoring benchmark on the embedded default: `python bench/bench_scoring.py --players 100000`.

About 100 bets per player over 90 days (100k players ~ 10M bets). Measures, each in a fresh
process: a full score-batch; the same features computed by one hand-written DuckDB query
(the floor dbt is compared with); an hourly run after 100k new bets; `sentinel analyze`
latency; peak RSS of the score-batch process tree (dbt runs in a child). It also measures
the floors no SQL can lower: the fixed cost of a score-batch (a 100-player warehouse, where
the SQL takes almost nothing), dbt's import, and the import of the libraries `analyze` needs.
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

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed, save, sentinel

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


def generated(folder: Path, players: int) -> Path:
    """The folder, with 90 days of generated contract files for ``players`` (made once)."""
    if not (folder / "bets.csv").exists():
        subprocess.run(sentinel("generate", "--out", str(folder), "--players", str(players), "--days", "90",
                                "--seed", "1", "--as-of", "2026-11-01"), check=True)  # fmt: skip
    return folder


def median_seconds(args: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``runs`` fresh processes."""
    return statistics.median(run_timed(args, env)["seconds"] for _ in range(runs))


def fixed_cost(folder: Path) -> float:
    """Wall time of a score-batch on a 100-player warehouse (second run: dbt's caches warm)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / ".cache")}
    db = folder / "tiny.duckdb"
    generated(folder, 100)
    base = sentinel("--db", str(db), "-q")
    if not db.exists():
        subprocess.run([*base, "init"], check=True, env=env)
        subprocess.run([*base, "ingest", "bets", str(folder / "bets.csv")], check=True, env=env)
    runs = [run_timed([*base, "score-batch", "--as-of", AS_OF], env) for _ in range(3)]
    assert all(r["exit_code"] == 0 for r in runs), runs[-1]["stderr"]
    return statistics.median(r["seconds"] for r in runs[1:])


# Resident mode (`sentinel serve --schedule`): one process keeps dbt loaded (ResidentDbt: the
# manifest parsed once) and runs score_batch again and again. Prints the seconds of each run.
RESIDENT = """
import json, sys, time
from dk_sentinel.config import load_settings
from dk_sentinel.scoring import score_batch
from dk_sentinel.scoring.dbt import ResidentDbt
settings = load_settings(overrides={"warehouse.duckdb.path": sys.argv[1]})
dbt, seconds = ResidentDbt(), []
for _ in range(3):
    started = time.perf_counter()
    assert score_batch(settings, full_refresh=True, dbt=dbt).status == "success"
    seconds.append(time.perf_counter() - started)
print(json.dumps({"seconds": seconds, "parses": dbt.parses}))
"""


def resident_cost(folder: Path) -> float:
    """Seconds of one scheduled score-batch of the 100-player warehouse, dbt kept loaded."""
    db = folder / "resident.duckdb"
    shutil.copy(folder / "tiny.duckdb", db)
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / ".cache")}
    out = subprocess.run([sys.executable, "-c", RESIDENT, str(db)], capture_output=True,
                         text=True, env=env, check=True)  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["parses"] == 1, result  # the manifest was reused by the later runs
    return statistics.median(result["seconds"][1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--memory-limit", default="2GB")
    args = parser.parse_args()
    data = generated(args.dir / f"players_{args.players}", args.players)
    db = data / "score.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(data / ".cache"),
        "SENTINEL_WAREHOUSE__DUCKDB__MEMORY_LIMIT": args.memory_limit,
    }
    base = sentinel("--db", str(db), "-q")
    subprocess.run([*base, "init"], check=True, env=env)
    loaded = run_timed([*base, "ingest", "bets", str(data / "bets.csv")], env)
    subprocess.run(
        [*base, "ingest", "assessments", str(data / "assessments.csv")], check=True, env=env
    )
    full = run_timed([*base, "score-batch", "--as-of", AS_OF, "-f", "json"], env)
    assert full["exit_code"] == 0, full["stderr"]

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
    run_timed([*base, "ingest", "bets", str(new_file)], env)
    hourly = run_timed([*base, "score-batch", "--as-of", "2026-11-01T01:00:00", "-f", "json"], env)
    assert hourly["exit_code"] == 0, hourly["stderr"]
    skipped = run_timed([*base, "score-batch", "-f", "json"], env)
    queue = subprocess.run(
        [*base, "queue", "--limit", "1", "-f", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    player = json.loads(queue.stdout)["items"][0]["player_id"]
    latency = median_seconds([*base, "analyze", player, "-f", "json"], 7, env)
    floor = fixed_cost(args.dir / "players_100")
    resident = resident_cost(args.dir / "players_100")
    python = [sys.executable, "-c"]
    dbt_import = median_seconds([*python, "import dbt.cli.main"], 3)
    libraries = median_seconds([*python, "import typer, pydantic_settings, duckdb, filelock"], 7)
    save(
        f"scoring_{args.players}",
        {
            "command": f"python bench/bench_scoring.py --players {args.players}",
            "players": args.players,
            "bets": bets,
            "ingest_seconds": round(loaded["seconds"], 2),
            "full_refresh_seconds": round(full["seconds"], 2),
            "bare_duckdb_query_seconds": round(bare, 2),
            "ratio_full_to_bare": round(full["seconds"] / bare, 2),
            "hourly_run_100k_new_bets_seconds": round(hourly["seconds"], 2),
            "ratio_hourly_to_full": round(hourly["seconds"] / full["seconds"], 3),
            "skipped_run_seconds": round(skipped["seconds"], 2),
            "fixed_cost_seconds_100_player_score_batch": round(floor, 2),
            "dbt_import_seconds_median": round(dbt_import, 2),
            "best_possible_ratio_hourly_to_full": round(floor / full["seconds"], 3),
            # Resident (serve --schedule), a run costs `resident` on a tiny warehouse; a resident
            # full refresh then takes about full - floor + resident.
            "resident_score_batch_seconds_100_players": round(resident, 2),
            "best_possible_ratio_resident": round(
                resident / (full["seconds"] - floor + resident), 3
            ),
            "analyze_latency_seconds_median": round(latency, 3),
            "library_import_seconds_median": round(libraries, 3),
            "peak_rss_mib_score_batch": round(max(full["peak_rss_mib"], hourly["peak_rss_mib"])),
            "memory_limit": args.memory_limit,
        },
    )


if __name__ == "__main__":
    main()
