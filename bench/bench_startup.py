"""Start-up of a quick command: `python bench/bench_startup.py` (3,000 and 10,000 players).

`sentinel analyze PLR_…` in a fresh process, best of three, table and JSON output, on a demo
warehouse of each size (built once under ``--dir``), against the floor: the same interpreter
importing only the libraries the command cannot do without (typer, pydantic, pydantic-settings,
duckdb). Then the import profile of one JSON run (``python -X importtime``), the self time of
each top-level package: what the README's start-up table shows.

Byte-code is compiled first (a pip install does it; ``PYTHONDONTWRITEBYTECODE`` would leave an
editable checkout compiling every module on every run).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import run_timed, save, sentinel

import dk_sentinel

FLOOR = "import typer, pydantic.main, pydantic_settings, duckdb"
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def best_of(args: list[str], runs: int, env: dict[str, str]) -> float:
    """The least wall time of ``runs`` fresh processes (the others are the machine's noise)."""
    timings = [run_timed(args, env) for _ in range(runs)]
    failed = [t for t in timings if t["exit_code"] != 0]
    if failed:
        raise SystemExit(f"{args} failed: {failed[0]['stderr']}")
    return min(t["seconds"] for t in timings)


def demo_warehouse(root: Path, players: int, env: dict[str, str]) -> tuple[Path, str]:
    """A scored demo warehouse of ``players`` players and the player at the top of its queue."""
    folder = root / f"players_{players}"
    db = folder / "sentinel.duckdb"
    if not db.exists():
        subprocess.run(
            sentinel("-q", "demo", "--players", str(players), "--dir", str(folder)),
            check=True, env=env, capture_output=True,
        )  # fmt: skip
    queue = subprocess.run(
        sentinel("--db", str(db), "-q", "queue", "--limit", "1", "-f", "json"),
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return db, json.loads(queue.stdout)["items"][0]["player_id"]


def import_profile(args: list[str], env: dict[str, str]) -> list[tuple[str, float]]:
    """Self import time (ms) per top-level package of one run, largest first."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *args[1:]], env=env, capture_output=True, text=True
    )
    totals: Counter[str] = Counter()
    for line in run.stderr.splitlines():
        if match := _IMPORT_LINE.match(line):
            totals[match[4].split(".")[0]] += int(match[1]) / 1000
    return [(name, round(ms, 1)) for name, ms in totals.most_common(12)]


def main() -> None:
    """Measure, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sentinel-bench-startup"))
    parser.add_argument("--players", type=int, nargs="+", default=[3000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["XDG_CACHE_HOME"] = str(args.dir / "cache")
    compileall.compile_dir(Path(dk_sentinel.__file__).parent, quiet=1)

    floor = best_of([sys.executable, "-c", FLOOR], args.runs, env)
    python = best_of([sys.executable, "-c", "pass"], args.runs, env)
    results: dict[str, object] = {"floor_seconds": round(floor, 3), "python_seconds": python}
    sizes = {}
    for players in args.players:
        db, player = demo_warehouse(args.dir, players, env)
        command = sentinel("--db", str(db), "-q", "analyze", player)
        sizes[str(players)] = {
            "table_seconds": round(best_of(command, args.runs, env), 3),
            "json_seconds": round(best_of([*command, "-f", "json"], args.runs, env), 3),
        }
    results["analyze"] = sizes
    results["import_profile_ms"] = import_profile([*command, "-f", "json"], env)
    save("startup", results, echo=False)
    print(f"python alone {python:.3f} s; the libraries' floor ({FLOOR}) {floor:.3f} s")
    for players, figures in sizes.items():
        print(
            f"{players} players: analyze {figures['table_seconds']:.3f} s (table), "
            f"{figures['json_seconds']:.3f} s (JSON); target <= 0.4 s"
        )
    print("import self time per package (ms):", results["import_profile_ms"])


if __name__ == "__main__":
    main()
