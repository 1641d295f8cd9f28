"""Server time of the console's pages: `python bench/bench_console.py [--db W.duckdb]`.

Renders each page in-process through the ASGI app (FastAPI's TestClient: no network, one
request at a time), so the time is the server's: routing, the use cases' warehouse reads and
the Jinja2 rendering. Pages: the queue (HIGH+, MEDIUM+ and its second page), the cases list,
and the player page of the top player and of random scored players. Target: <= 150 ms each.

Without --db it builds the benchmark warehouse first (`generate`, `ingest`, `score-batch`;
100k players, ~10M bets: several minutes), as bench_api.py does.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _util import machine, save
from bench_api import _build

TARGET_MS = 150.0


def _time(client: Any, path: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, help="A scored warehouse (default: build one)")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ["SENTINEL_API__RATE_LIMIT"] = "1000000/minute"
    os.environ["SENTINEL_AI__ENABLED"] = "false"

    from fastapi.testclient import TestClient

    from dk_sentinel.config import load_settings
    from dk_sentinel.server import create_app
    from dk_sentinel.usecases import Sentinel

    db = args.db or _build(args.players, Path(tempfile.mkdtemp(prefix="sentinel-bench-ui-")))
    settings = load_settings(overrides={"warehouse.duckdb.path": db})
    key = Sentinel(settings).keys.create("bench01", "analyst").api_key
    with TestClient(create_app(settings)) as client:
        form = client.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        client.post("/signin", data={"api_key": key, "csrf_token": token, "next": "/queue"})
        queue = client.get("/queue?category=MEDIUM").text
        top = re.findall(r'href="/players/(PLR_[0-9]+_[A-Z]{2})" data-row-link', queue)
        second = re.search(r'<a href="([^"]+)" rel="next">', queue)
        app = client.app.state.sentinel.runtime.app  # type: ignore[attr-defined]
        with app.connect() as wh:
            scored = [r[0] for r in wh.query(
                "select player_id from {analytics}.rg_latest_risk_scores")]  # fmt: skip
            bets = wh.query("select count(*) from {raw}.bets")[0][0]
        random.seed(1)
        pages = {
            "queue (HIGH+)": ["/queue"],
            "queue (MEDIUM+)": ["/queue?category=MEDIUM"],
            "queue, second page": [second.group(1).replace("&amp;", "&")] if second else [],
            "cases": ["/cases?overdue=true"],
            "player (top of the queue)": [f"/players/{top[0]}"],
            "player (random scored)": [f"/players/{p}" for p in random.sample(scored, 10)],
        }
        rows = []
        for name, paths in pages.items():
            if not paths:
                continue
            for path in paths:  # warm: first render compiles the template
                client.get(path)
            times = [
                t for path in paths for t in _time(client, path, max(args.repeat // len(paths), 2))
            ]
            p50 = statistics.median(times)
            p95 = sorted(times)[int(0.95 * (len(times) - 1))]
            rows.append({"page": name, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                         "target_ms": TARGET_MS, "meets": p95 <= TARGET_MS})  # fmt: skip
    print(f"{len(scored):,} players scored, {bets:,} bets; {machine()['cores']} cores")
    print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8}  target")
    for r in rows:
        print(f"{r['page']:28} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f}  <= {TARGET_MS:.0f}"
              f" {'ok' if r['meets'] else 'MISSED'}")  # fmt: skip
    save("bench_console", {"machine": machine(), "players": len(scored), "bets": bets,
                           "pages": rows})  # fmt: skip


if __name__ == "__main__":
    main()
