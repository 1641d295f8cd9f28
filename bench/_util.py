"""Shared helpers for the benchmark scripts: timing a child process and describing the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    mem = 0
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            mem = int(handle.readline().split()[1]) // 1024 // 1024
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "cpu": cpu,
        "python": platform.python_version(),
    }


def run_timed(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command in a fresh process; return wall seconds, exit code and peak RSS (MiB).

    Peak RSS is the largest resident set of any process in the child's tree (ru_maxrss of
    waited-for children), measured in a fresh helper so earlier runs do not count.
    """
    helper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': wall, 'exit_code': p.returncode, 'peak_rss_mib': rss, 'stderr': p.stderr[-2000:], 'stdout': p.stdout[-20000:]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", helper, *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)


def sentinel(*args: str) -> list[str]:
    """The command line of the installed sentinel (same interpreter)."""
    return [sys.executable, "-m", "dk_sentinel", *args]


def save(name: str, data: dict[str, Any], echo: bool = True) -> Path:
    """Write results/NAME.json with the machine description (and print it unless not echo)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **data,
    }
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(json.dumps(payload, indent=2) if echo else f"saved {path}")
    return path
