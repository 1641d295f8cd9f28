"""Make the README's screenshot of the console's player page (docs/console-player.png).

A 2,000-player synthetic warehouse scored at six as-ofs over four weeks (so the history chart
has a shape), two interventions recorded, then the page in headless Chromium (Debian's
chromium and chromium-driver). Run: ``.venv/bin/python docs/console_screenshot.py``.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from dk_sentinel.config import load_settings
from dk_sentinel.models import utcnow
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel

OUT = Path(__file__).parent / "console-player.png"


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="sentinel-shot-"))
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    settings = load_settings(overrides={"warehouse.duckdb.path": root / "w.duckdb"})
    files = Sentinel(settings).data.generate(root / "data", 2000, 120, 7, now, families="all")
    app = Sentinel(settings, clock=lambda: now)
    app.system.initialise()
    for kind in ("bets", "assessments", "outcomes", "payments", "account_events"):
        app.data.load(kind, [files.files[kind]])  # type: ignore[arg-type]
    for days in (28, 21, 14, 10, 7, 3, 0):
        at = now - timedelta(days=days)
        assert Sentinel(settings, clock=lambda at=at: at).scoring.run(as_of=at).status == "success"
    player = app.players.queue(min_category="HIGH", limit=1).items[0].player_id
    earlier = Sentinel(settings, clock=lambda: now - timedelta(days=9))
    earlier.interventions.record(player_id=player, intervention_type="watchlist",
                                reason="Stakes tripled over two weeks; watch closely",
                                analyst_id="ana01", use_ai=False)  # fmt: skip
    app.interventions.record(player_id=player, intervention_type="timeout", duration_hours=24,
                            reason="Chasing losses after midnight", analyst_id="ana01",
                            use_ai=False)  # fmt: skip
    key = app.keys.create("ana01", "analyst").api_key

    api = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--window-size=1280,1500",
                 f"--user-data-dir={root / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        base = f"http://127.0.0.1:{port}"
        driver.get(f"{base}/signin?next=/players/{player}")
        driver.find_element(By.ID, "api_key").send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
        driver.save_screenshot(str(OUT))
    finally:
        driver.quit()
        server.should_exit = True
    shutil.rmtree(root, ignore_errors=True)
    print(f"{OUT} ({player})", file=sys.stderr)


if __name__ == "__main__":
    main()
