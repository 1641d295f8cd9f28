"""What an hourly score-batch would scan and cost on Snowflake, measured on DuckDB and scaled.

Method (docs/snowflake.md):

1. Build a warehouse of ``--players`` synthetic players (90 days), score it as of one hour
   before the end, load the last hour's bets and run the hourly (incremental) score-batch.
2. For every model dbt compiled in that run, run its SELECT again under DuckDB's profiler and
   read each table scan: the rows it produced (filters pushed into the scan, as Snowflake prunes
   micro-partitions) and the columns it projected.
3. Bytes scanned = rows x the average stored width of those columns (8 bytes for numbers and
   timestamps, the mean length for text), uncompressed: an upper bound of Snowflake's
   BYTES_SCANNED, which counts compressed micro-partitions (typically 3-5x smaller).
4. Scale linearly in bets to 10M, 100M and 1B (every model reads the 90-day window or less),
   and turn the bytes into warehouse time at an assumed scan rate, with Snowflake's 60-second
   minimum per resume.

    python bench/snowflake_cost.py --players 10000
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _util import machine, save

#: Assumed scan-and-aggregate rate of one X-Small warehouse (1 credit/hour) over uncompressed
#: column data; Snowflake publishes none. Replace it with your QUERY_HISTORY figures (query tag
#: dk-sentinel:score-batch) after the first week.
XS_BYTES_PER_SECOND = 400e6
MIN_BILLED_SECONDS = 60
CREDITS_PER_HOUR = {"X-Small": 1, "Small": 2, "Medium": 4}


def _widths(con: Any, table: str) -> dict[str, float]:
    """Average stored width in bytes of each column of ``table``."""
    columns = con.sql(f"describe {table}").fetchall()
    widths = {}
    for name, kind, *_ in columns:
        if "VARCHAR" in kind:
            widths[name] = float(
                con.execute(f'select coalesce(avg(strlen("{name}")), 0) from {table}').fetchall()[
                    0
                ][0]
            )
        elif kind == "BOOLEAN":
            widths[name] = 1.0
        else:
            widths[name] = 16.0 if kind.startswith("DECIMAL(18") else 8.0
    return widths


def _scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every table scan of a DuckDB JSON profile."""
    found = []
    if node.get("type") == "TABLE_SCAN" and node.get("extra_info", {}).get("Table"):
        found.append(node)
    for child in [*node.get("children", []), *node.get("operator", [])]:
        found += _scans(child)
    return found


def measure(folder: Path, players: int) -> dict[str, Any]:
    """Build, score hourly, and measure each compiled model's scans."""
    import duckdb

    from dk_sentinel.config import load_settings
    from dk_sentinel.synthetic.generator import generate
    from dk_sentinel.usecases import Sentinel
    from dk_sentinel.warehouse.jobs import cache_dir

    as_of = datetime(2026, 11, 1, 12)
    gen = generate(folder / "data", players, 90, 7, as_of, families="all")
    bets = Path(gen.files["bets"])
    with bets.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    head, body = rows[0], rows[1:]
    placed = head.index("placed_at")
    cut = as_of - timedelta(hours=1)
    early = [r for r in body if datetime.fromisoformat(r[placed]) <= cut]
    late = [r for r in body if datetime.fromisoformat(r[placed]) > cut]
    for name, part in (("early.csv", early), ("late.csv", late)):
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([head, *part])
    settings = load_settings(overrides={"warehouse.duckdb.path": folder / "w.duckdb"})
    app = Sentinel(settings)
    app.system.initialise()
    app.data.load("assessments", [gen.files["assessments"]])
    app.data.load("bets", [folder / "early.csv"])
    assert app.scoring.run(as_of=cut).status == "success"
    app.data.load("bets", [folder / "late.csv"])
    started = time.perf_counter()
    hourly = app.scoring.run(as_of=as_of)
    seconds = time.perf_counter() - started
    assert hourly.status == "success", hourly.error
    compiled = cache_dir(settings) / "target" / "compiled" / "dk_sentinel" / "models"
    widths: dict[str, dict[str, float]] = {}
    models = []
    profile = folder / "profile.json"
    with duckdb.connect(str(folder / "w.duckdb"), read_only=True) as con:
        views = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_type = 'VIEW'"
        ).fetchall()}  # fmt: skip
    for path in sorted(compiled.rglob("*.sql")):
        if path.stem in views:  # a view scans nothing when dbt builds it: its readers do
            continue
        sql = path.read_text(encoding="utf-8")
        # a connection per model: its disk reads are its own (nothing cached by an earlier one)
        con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
        con.execute("pragma enable_profiling='json'").fetchall()
        con.execute(f"pragma profiling_output='{profile}'").fetchall()
        begun = time.perf_counter()
        con.sql(sql).fetchall()
        model_seconds = time.perf_counter() - begun
        con.execute("pragma disable_profiling").fetchall()
        tree = json.loads(profile.read_text(encoding="utf-8"))
        scanned = 0.0
        for scan in _scans(tree):
            info = scan["extra_info"]
            key = ".".join(info["Table"].split(".")[-2:])  # catalog.schema.table
            if key not in widths:
                widths[key] = _widths(con, key)
            projected = info.get("Projections", [])
            if isinstance(projected, str):
                projected = [p for p in projected.split("\n") if p]
            width = sum(widths[key].get(c, 8.0) for c in projected) or 8.0
            # the rows the scan kept (its filters pushed down, as Snowflake prunes partitions
            # of time-ordered data) times the width of the columns it read
            scanned += float(scan.get("intermediate_rows", 0)) * width
        models.append({"model": path.stem, "bytes": scanned, "duckdb_seconds": model_seconds,
                       "duckdb_bytes_read": tree.get("io", {}).get("total_bytes_read", 0)})  # fmt: skip
        con.close()
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    total_bets = con.execute("select count(*) from raw.bets").fetchall()[0][0]
    con.close()
    return {"bets": total_bets, "new_bets": len(late), "hourly_seconds": seconds,
            "models": models}  # fmt: skip


def main() -> None:
    """Measure, scale and print the table of docs/snowflake.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = measure(Path(tmp), args.players)
    per_bet = sum(m["bytes"] for m in found["models"]) / found["bets"]
    print(f"measured: {found['bets']:,} bets ({found['new_bets']:,} in the last hour), "
          f"hourly run {found['hourly_seconds']:.1f} s here")  # fmt: skip
    for m in sorted(found["models"], key=lambda m: -m["bytes"]):
        print(f"  {m['model']:<28} {m['bytes'] / 1e6:10.1f} MB scanned")
    print(
        f"bytes scanned per hourly run: {per_bet:.0f} per bet in the 90-day window (uncompressed)"
    )
    table = []
    for bets in (10_000_000, 100_000_000, 1_000_000_000):
        scanned = per_bet * bets
        seconds = scanned / XS_BYTES_PER_SECOND
        row = {"bets": bets, "gb_scanned": scanned / 1e9, "xs_seconds": seconds}
        for size, credits in CREDITS_PER_HOUR.items():
            factor = credits  # twice the size: about half the time, the same credits
            billed = max(seconds / factor, MIN_BILLED_SECONDS)
            row[f"credits_{size}"] = billed / 3600 * credits
        table.append(row)
        print(
            f"{bets:>13,} bets: {row['gb_scanned']:8.1f} GB, X-Small {seconds:7.0f} s, "
            + ", ".join(f"{s} {row[f'credits_{s}']:.3f} cr" for s in CREDITS_PER_HOUR)
        )
    save("snowflake_cost", {"machine": machine(), "measured": found, "per_bet_bytes": per_bet,
                            "xs_bytes_per_second": XS_BYTES_PER_SECOND, "table": table})  # fmt: skip


if __name__ == "__main__":
    main()
