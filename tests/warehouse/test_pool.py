"""The server's connection pool on the embedded warehouse: shared, and handed over on demand."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import invoke
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.errors import BusyError
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.pool import SharedDuckDB, open_pool
from dk_sentinel.warehouse.schema import bootstrap

HOLD = """
import sys, time
from dk_sentinel.config import load_settings
from dk_sentinel.warehouse import connect
with connect(load_settings(overrides={"warehouse.duckdb.path": sys.argv[1]})):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


@pytest.fixture
def shared(tmp_path: Path) -> Settings:
    settings = load_settings(
        overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb",
                   "warehouse.busy_timeout_seconds": 1.0}
    )  # fmt: skip
    with connect(settings) as wh:
        bootstrap(wh)
    return settings


def test_leases_share_one_open_file_and_a_cli_command_gets_it_meanwhile(
    shared: Settings, runner
) -> None:
    pool = open_pool(shared)
    try:
        with pool.connect() as first, pool.connect() as second:  # two cursors, one file
            assert first.query("select 1") == second.query("select 1") == [(1,)]
        with pool.connect() as wh:
            wh.execute("insert into {ops}.write_guards values ('probe', null)")
        # The pool still holds the file; a separate process waits, says so, and is let in.
        started = time.monotonic()
        other = subprocess.run(
            [sys.executable, "-m", "dk_sentinel", "--db", str(shared.warehouse.duckdb.path),
             "runs", "--format", "json"],
            capture_output=True, text=True, env={**_env(), "SENTINEL_WAREHOUSE__BUSY_TIMEOUT_SECONDS": "20"},
        )  # fmt: skip
        assert other.returncode == 0, other.stderr
        assert time.monotonic() - started < 15
        with pool.connect() as wh:  # and the pool reopens it afterwards
            assert wh.query("select count(*) from {ops}.write_guards where name = 'probe'") == [
                (1,)
            ]
    finally:
        pool.close()


@pytest.mark.slow  # a child process holds the file for seconds
def test_a_lease_while_another_process_holds_the_file_is_busy_then_fails_fast(
    shared: Settings,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(shared.warehouse.duckdb.path), "3"],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    pool = SharedDuckDB(shared.warehouse)
    try:
        started = time.monotonic()
        with pytest.raises(BusyError), pool.connect():
            pass
        waited = time.monotonic() - started
        assert 0.9 <= waited < 2.5  # the busy timeout (1 s), not the holder's 3 s
        started = time.monotonic()
        with pytest.raises(BusyError), pool.connect():
            pass
        assert time.monotonic() - started < 0.5  # the same second: at once
        holder.wait(30)
        time.sleep(1.1)
        with pool.connect() as wh:
            assert wh.query("select 1") == [(1,)]
    finally:
        pool.close()
        holder.kill()


def test_serve_refuses_several_workers_with_a_schedule_or_on_duckdb(runner, db_settings) -> None:
    db = str(db_settings.warehouse.duckdb.path)
    assert invoke(runner, "--db", db, "init").exit_code == 0
    scheduled = invoke(runner, "--db", db, "serve", "--workers", "2", "--schedule", "5 * * * *")
    assert scheduled.exit_code == 2 and "single worker" in scheduled.stderr
    embedded = invoke(runner, "--db", db, "serve", "--workers", "2")
    assert embedded.exit_code == 2 and "one worker" in embedded.stderr
    bad = invoke(runner, "--db", db, "serve", "--schedule", "every hour")
    assert bad.exit_code == 2 and "invalid schedule" in bad.stderr
