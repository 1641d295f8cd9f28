"""Full-refresh cost of this checkout's scoring against an earlier commit's, in one run.

    python bench/compare_versions.py --ref c43f586 --players 100000

Generates one data set (bets, payments and account events), loads it into a warehouse per
version, and then alternates
full-refresh `score-batch` runs (each a fresh process) of the current code and of the code at
REF (its `src/` from `git archive`, run with the same interpreter and libraries), so both
versions see the same data, machine and moment. Prints the median of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed, save, sentinel

AS_OF = "2026-11-01T00:00:00"
ROOT = Path(__file__).resolve().parent.parent


def source_at(ref: str, folder: Path) -> Path:
    """The package source (``src/``) of commit ``ref``, extracted into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", default="c43f586", help="the earlier commit")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--dbt-threads", type=int, default=0,
        help="models dbt builds at once, the same for both (default: each version's own)",
    )  # fmt: skip
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sentinel-versions-"))
    old_src = source_at(args.ref, work / "old")
    env = {**os.environ, "XDG_CACHE_HOME": str(work / ".cache")}
    new_db, old_db = work / "new.duckdb", work / "old.duckdb"
    data = work / "data"
    old_env = {**env, "PYTHONPATH": str(old_src)}
    generate = ["generate", "--out", str(data), "--players", str(args.players), "--days", "90",
                "--seed", "7", "--as-of", AS_OF]  # fmt: skip
    subprocess.run(sentinel(*generate), env=env, check=True, capture_output=True)
    # each version loads its own warehouse: an older sentinel refuses a newer schema
    for db, run_env in ((new_db, env), (old_db, old_env)):
        loads = [["ingest", kind, str(data / f"{kind.replace('-', '_')}.csv")]
                 for kind in ("bets", "payments", "account-events")]  # fmt: skip
        for step in (["init"], *loads):
            subprocess.run(sentinel("--db", str(db), *step), env=run_env, check=True,
                           capture_output=True)  # fmt: skip
    if args.dbt_threads:  # both versions build this many models at once
        for run_env in (env, old_env):
            run_env["SENTINEL_SCORING__DBT_THREADS"] = str(args.dbt_threads)
    times: dict[str, list[float]] = {"current": [], args.ref: []}
    for repeat in range(args.repeats + 1):  # the first of each is a first build: not timed
        for name, db, run_env in (("current", new_db, env), (args.ref, old_db, old_env)):
            cmd = sentinel("--db", str(db), "-q", "score-batch", "--as-of", AS_OF, "--full-refresh")
            result = run_timed(cmd, env=run_env)
            if result["exit_code"] != 0:
                raise SystemExit(f"{name}: exit {result['exit_code']}\n{result['stderr']}")
            if repeat:
                times[name].append(result["seconds"])
    medians = {name: statistics.median(values) for name, values in times.items()}
    save(
        f"compare_versions_{args.players}" + (f"_t{args.dbt_threads}" if args.dbt_threads else ""),
        {
            "command": f"python bench/compare_versions.py --ref {args.ref} --players {args.players}"
            + (f" --dbt-threads {args.dbt_threads}" if args.dbt_threads else ""),
            "full_refresh_seconds": times,
            "median_seconds": medians,
            "ratio_current_to_ref": round(medians["current"] / medians[args.ref], 3),
        },
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
