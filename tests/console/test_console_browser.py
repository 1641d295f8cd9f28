"""The console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium against ``sentinel serve``'s app on a local port, with axe-core's checks.

`.ci/run` installs the browser where it can; elsewhere the test is skipped with the reason.
The player page's screenshot is saved as a test artefact (``$SENTINEL_TEST_ARTIFACTS``,
default ``build/test-artifacts``).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(
    os.environ.get(
        "SENTINEL_TEST_ARTIFACTS", Path(__file__).parents[2] / "build" / "test-artifacts"
    )
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="no headless browser: install Debian's chromium and chromium-driver "
        "(.ci/run does) to run the console's browser test",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(scored: Settings) -> Iterator[tuple[str, str]]:
    """The console on a local port (uvicorn in a thread) and an analyst's key."""
    import uvicorn

    key = Sentinel(scored).keys.create("ana01", "analyst").api_key
    api = create_app(scored)
    api.state.sentinel.runtime.app.clock = lambda: AS_OF
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,2400",
                 f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _axe_violations(driver: Any) -> list[str]:
    """axe-core's serious and critical violations on the current page."""
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_sign_in_open_the_top_player_record_a_timeout_and_see_it_audited(
    served: tuple[str, str], browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, key = served
    wait = WebDriverWait(browser, 20)  # a click navigates; the next page may not be there yet
    browser.get(f"{base}/queue")
    assert browser.current_url.startswith(f"{base}/signin")  # no key: the sign-in page
    assert _axe_violations(browser) == []
    browser.find_element(By.ID, "api_key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    wait.until(ec.url_to_be(f"{base}/queue"))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Review queue"
    assert _axe_violations(browser) == []
    top = browser.find_elements(By.CSS_SELECTOR, "a[data-row-link]")[0]
    player = top.text
    # the keyboard: j selects the first row, Enter opens it
    browser.find_element(By.TAG_NAME, "body").send_keys("j")
    wait.until(lambda d: d.switch_to.active_element.text == player)
    browser.switch_to.active_element.send_keys("\n")
    wait.until(ec.url_to_be(f"{base}/players/{player}"))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(player)
    assert browser.find_elements(By.CSS_SELECTOR, "svg polyline.series")

    Select(browser.find_element(By.ID, "intervention_type")).select_by_value("timeout")
    browser.find_element(By.ID, "duration_hours").send_keys("24")
    browser.find_element(By.ID, "reason").send_keys("Chasing losses after midnight")
    browser.find_element(By.CSS_SELECTOR, "#intervene button").click()
    status = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[role=status]"))).text
    assert status.startswith("Done: timeout INT-")
    audit = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=audit-h] tbody").text
    assert "created" in audit and "ana01" in audit and "Chasing losses after midnight" in audit
    assert _axe_violations(browser) == []

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "console-player.png"
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
