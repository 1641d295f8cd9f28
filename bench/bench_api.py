"""Load test of `sentinel serve` on 127.0.0.1: `python bench/bench_api.py --db W.duckdb`.

Starts `sentinel serve` (one uvicorn worker, the rules explainer) pinned to one core, on a
scored warehouse, and runs N concurrent keep-alive clients on the other core, each sending R
requests for random scored players. Four phases, each from the same run:

1. `GET /health` (no warehouse): the floor of the server, the client and the HTTP stack;
2. `GET /api/players/{id}/risk` (the latest run held in memory);
3. `POST /api/analytics/analyze-player` on an idle warehouse (with the rules explanation);
4. analyze-player while a cron `sentinel score-batch --full-refresh` runs (what the clients
   see: the status counts and the latencies of each); `--skip-batch` leaves it out.

Without --db it builds a warehouse first (`generate`, `ingest`, `score-batch`; 100k players
take ~3 minutes). The clients run in this process (asyncio + httpx), the server in its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _util import save, sentinel


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 1) if ordered else 0.0


async def _load(
    base: str, key: str, players: list[str], clients: int, per_client: int, path: str
) -> dict[str, Any]:
    latencies: dict[int, list[float]] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            if path == "/health":
                answer = await http.get(path)
            elif path == "/risk":
                answer = await http.get(f"/api/players/{random.choice(players)}/risk",
                                        headers={"X-API-Key": key})  # fmt: skip
            else:
                body = {"player_id": random.choice(players)}
                answer = await http.post(path, json=body, headers={"X-API-Key": key})
            latencies.setdefault(answer.status_code, []).append(
                (time.perf_counter() - started) * 1000
            )

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.perf_counter() - started
    every = [ms for values in latencies.values() for ms in values]
    return {
        "requests": len(every),
        "seconds": round(wall, 2),
        "requests_per_second": round(len(every) / wall, 1),
        "status_counts": {str(k): len(v) for k, v in sorted(latencies.items())},
        "errors": sum(len(v) for k, v in latencies.items() if k >= 500 or k == 0),
        "p50_ms": _pct(every, 0.50),
        "p99_ms": _pct(every, 0.99),
        "by_status": {
            str(k): {"p50_ms": _pct(v, 0.5), "p99_ms": _pct(v, 0.99)}
            for k, v in sorted(latencies.items())
        },
    }


def _build(players: int, folder: Path) -> Path:
    db = folder / "bench.duckdb"
    data = folder / "data"
    steps = [
        ["generate", "-o", str(data), "--players", str(players), "--format", "parquet"],
        ["--db", str(db), "init"],
        ["--db", str(db), "ingest", "bets", str(data / "bets.parquet")],
        ["--db", str(db), "ingest", "assessments", str(data / "assessments.parquet")],
        ["--db", str(db), "ingest", "payments", str(data / "payments.parquet")],
        ["--db", str(db), "ingest", "account-events", str(data / "account_events.parquet")],
        ["--db", str(db), "score-batch"],
    ]
    for step in steps:
        subprocess.run(sentinel(*step), check=True, capture_output=True)
    return db


def measure(
    db: Path,
    *,
    clients: int = 20,
    requests: int = 500,
    port: int = 8765,
    env: dict[str, str] | None = None,
    during_full_refresh: bool = False,
) -> dict[str, Any]:
    """Serve ``db`` and measure /health, the risk lookup and analyze-player (and, on request,
    analyze-player during a cron full refresh), each phase from this one server."""
    env = {**(env or os.environ), "SENTINEL_API__RATE_LIMIT": "1000000/minute",
           "SENTINEL_AI__ENABLED": "false"}  # fmt: skip
    created = subprocess.run(
        sentinel("--db", str(db), "api-keys", "create", "--analyst", "bench01", "--role",
                 "viewer"),
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    key = created.stdout.strip()
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        players = [r[0] for r in con.execute(
            "select player_id from analytics.rg_latest_risk_scores").fetchall()]  # fmt: skip

    # the server on the last core, this load generator on the others (the harness must not
    # take the server's CPU); without taskset (or with one core) both share the machine
    cores = sorted(os.sched_getaffinity(0))
    pin = ["taskset", "-c", str(cores[-1])] if len(cores) > 1 and shutil.which("taskset") else []
    if pin:
        os.sched_setaffinity(0, set(cores[:-1]))
    server = subprocess.Popen(
        [*pin, *sentinel("-q", "--db", str(db), "serve", "--port", str(port))],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(3)  # the server's first poll loads the latest run into memory
        run = asyncio.run
        results: dict[str, Any] = {"players": len(players), "clients": clients,
                                   "requests_per_client": requests,
                                   "server_pinned_to_core": cores[-1] if pin else None}  # fmt: skip
        run(_load(base, key, players, clients, 20, "/health"))  # warm-up
        results["health"] = run(_load(base, key, players, clients, requests, "/health"))
        run(_load(base, key, players, clients, 20, "/risk"))  # warm-up
        results["risk"] = run(_load(base, key, players, clients, requests, "/risk"))
        path = "/api/analytics/analyze-player"
        run(_load(base, key, players, clients, 20, path))  # warm-up
        results["analyze_idle"] = run(_load(base, key, players, clients, requests, path))
        if during_full_refresh:
            batch = subprocess.Popen(
                sentinel("--db", str(db), "score-batch", "--full-refresh"),
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(1.0)  # let it take the scoring lock and the file
            during = run(_load(base, key, players, clients, requests, path))
            during["score_batch_still_running_at_end"] = batch.poll() is None
            started = time.perf_counter()
            batch.wait()
            during["score_batch_exit_code"] = batch.returncode
            during["score_batch_seconds_after_clients"] = round(time.perf_counter() - started, 1)
            results["analyze_during_score_batch"] = during
    finally:
        server.terminate()
        server.wait(30)
        if pin:
            os.sched_setaffinity(0, set(cores))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, help="A scored warehouse (default: build one)")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500, help="Per client")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-batch", action="store_true",
                        help="Skip the phase during a score-batch --full-refresh")  # fmt: skip
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sentinel-bench-api-"))
    db = args.db or _build(args.players, folder)
    results = measure(db, clients=args.clients, requests=args.requests, port=args.port,
                      during_full_refresh=not args.skip_batch)  # fmt: skip
    _table(results)
    save("api", results)


def _table(results: dict[str, Any]) -> None:
    """The figures against /health on the same harness, and the targets."""
    health = results["health"]
    print(f"{'request':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p50 vs /health':>15} "
          f"{'req/s vs /health':>17}")  # fmt: skip
    for name, label in (("health", "GET /health"), ("risk", "GET /api/players/{id}/risk"),
                        ("analyze_idle", "POST /api/analytics/analyze-player")):  # fmt: skip
        r = results[name]
        print(f"{label:34} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['requests_per_second']:8.1f} "
              f"{r['p50_ms'] / health['p50_ms']:14.2f}x {r['requests_per_second'] / health['requests_per_second']:16.2f}x")  # fmt: skip
    print("targets: the risk lookup's p50 <= 2x /health's; its throughput >= 0.5x /health's")


if __name__ == "__main__":
    main()
