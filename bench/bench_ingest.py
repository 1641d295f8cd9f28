"""Ingest throughput on the embedded default: `python bench/bench_ingest.py --bets 10000000`.

Generates a bets CSV of about N rows (N/100 players x 90 days), then times a fresh
`sentinel ingest bets` process into a new DuckDB warehouse. Prints rows/s and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed, save, sentinel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bets", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    players = max(args.bets // 100, 100)
    data = args.dir / f"bets_{args.bets}"
    if not (data / "bets.csv").exists():
        subprocess.run(sentinel("generate", "--out", str(data), "--players", str(players), "--days", "90",
                                "--seed", "1", "--as-of", "2026-11-01"), check=True)  # fmt: skip
    db = data / "ingest.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(data / ".cache")}
    subprocess.run(sentinel("--db", str(db), "-q", "init"), check=True, env=env)
    first = run_timed(
        sentinel("--db", str(db), "-q", "ingest", "bets", str(data / "bets.csv"), "-f", "json"), env
    )
    again = run_timed(
        sentinel("--db", str(db), "-q", "ingest", "bets", str(data / "bets.csv"), "-f", "json"), env
    )
    import json

    rows = json.loads(first["stdout"])["rows_read"]
    save(
        f"ingest_{args.bets}",
        {
            "command": f"python bench/bench_ingest.py --bets {args.bets}",
            "rows": rows,
            "first_load_seconds": round(first["seconds"], 2),
            "rows_per_second": round(rows / first["seconds"]),
            "reload_seconds": round(again["seconds"], 2),
            "reload_already_present": json.loads(again["stdout"])["already_present"],
            "peak_rss_mib": round(max(first["peak_rss_mib"], again["peak_rss_mib"])),
        },
    )


if __name__ == "__main__":
    main()
