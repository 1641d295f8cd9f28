"""Exclusive jobs across hosts (issue #25): a lease row in the warehouse, not only a file lock.

Snowflake is fakesnow's server; "hosts" are processes (or threads) with their own cache folders,
so the same-host file lock cannot see each other and only the lease keeps them apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings
from dk_sentinel.errors import BusyError
from dk_sentinel.ingest import ingest
from dk_sentinel.synthetic.generator import generate
from dk_sentinel.usecases import Sentinel
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.jobs import Lease, exclusive_job
from dk_sentinel.warehouse.schema import bootstrap

pytestmark = pytest.mark.snowflake


def _child_env(settings: Settings, cache: Path, **extra: str) -> dict[str, str]:
    """A sentinel process of its own "host": the same warehouse, its own cache folder."""
    sf = settings.warehouse.snowflake
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update({
        "XDG_CACHE_HOME": str(cache),
        "SENTINEL_WAREHOUSE__BACKEND": "snowflake",
        "SENTINEL_WAREHOUSE__SNOWFLAKE__ACCOUNT": sf.account,
        "SENTINEL_WAREHOUSE__SNOWFLAKE__USER": sf.user,
        "SENTINEL_WAREHOUSE__SNOWFLAKE__HOST": sf.host,
        "SENTINEL_WAREHOUSE__SNOWFLAKE__PORT": str(sf.port),
        "SENTINEL_WAREHOUSE__SNOWFLAKE__PROTOCOL": sf.protocol,
        "SENTINEL_WAREHOUSE__SNOWFLAKE__EMULATOR": "true",
        "SENTINEL_WAREHOUSE__SNOWFLAKE__DATABASE": sf.database,
        **extra,
    })  # fmt: skip
    return env


def _score(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dk_sentinel", "score-batch", "--as-of",
         f"{AS_OF:%Y-%m-%d %H:%M}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: kill -9 takes its dbt child too
    )  # fmt: skip


def _lease(settings: Settings) -> dict[str, Any]:
    with connect(settings) as wh:
        return wh.query_dicts("select * from {ops}.job_leases where job = 'score-batch'")[0]


@pytest.fixture
def loaded(fakesnow_server_settings: Settings, tmp_path: Path) -> Settings:
    gen = generate(tmp_path / "data", players=40, days=30, seed=5, as_of=AS_OF)
    with connect(fakesnow_server_settings) as wh:
        bootstrap(wh)
        for kind in ("bets", "assessments"):
            ingest(wh, kind, [gen.files[kind]])  # type: ignore[arg-type]
    return fakesnow_server_settings


def test_two_hosts_score_at_once_one_runs_the_other_exits_75_naming_it(
    loaded: Settings, tmp_path: Path
) -> None:
    first = _score(_child_env(loaded, tmp_path / "host-a"))
    deadline = time.monotonic() + 120
    while _lease(loaded)["owner"] is None:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first run never took the lease"
        time.sleep(0.1)
    second = _score(_child_env(loaded, tmp_path / "host-b"))
    _, err = second.communicate(timeout=120)
    assert second.returncode == 75, err
    assert f"another score-batch is running (pid {first.pid} on" in err
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert _lease(loaded)["owner"] is None  # released at the end
    with connect(loaded) as wh:
        runs = wh.query("select status from {ops}.scoring_runs")
    assert runs == [("success",)]


def test_a_killed_holders_lease_is_taken_over_after_it_expires_and_its_run_repaired(
    loaded: Settings, tmp_path: Path
) -> None:
    short = {"SENTINEL_WAREHOUSE__LEASE_SECONDS": "3"}
    holder = _score(_child_env(loaded, tmp_path / "host-a", **short))
    deadline = time.monotonic() + 120
    with connect(loaded) as wh:
        while not wh.query("select 1 from {ops}.scoring_runs where status = 'running'"):
            assert holder.poll() is None, holder.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.1)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(30)
    killed_at = time.monotonic()
    early = _score(_child_env(loaded, tmp_path / "host-b", **short))
    _, err = early.communicate(timeout=120)
    if time.monotonic() - killed_at < 3:  # within the lease: still the dead holder's
        assert early.returncode == 75 and f"pid {holder.pid}" in err, err
    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))
    later = _score(_child_env(loaded, tmp_path / "host-b", **short))
    _, err = later.communicate(timeout=300)
    assert later.returncode == 0, err
    assert "repairing 1 interrupted scoring run" in err
    with connect(loaded) as wh:
        runs = sorted(r[0] for r in wh.query("select status from {ops}.scoring_runs"))
    assert runs == ["failed", "success"]


def test_overlapping_loads_from_two_hosts_give_each_bet_once(
    fakesnow_server_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dk_sentinel.warehouse.jobs as jobs

    settings = fakesnow_server_settings
    gen = generate(tmp_path / "data", players=30, days=20, seed=9, as_of=AS_OF)
    lines = Path(gen.files["bets"]).read_text(encoding="utf-8").splitlines()
    head, rows = lines[0], lines[1:]
    half = len(rows) // 2
    parts = []
    for name, chunk in (("a", rows[: half + 200]), ("b", rows[half - 200 :])):  # 400 overlap
        part = tmp_path / f"bets_{name}.csv"
        part.write_text("\n".join([head, *chunk]) + "\n", encoding="utf-8")
        parts.append(part)
    with connect(settings) as wh:
        bootstrap(wh)
    # each thread is a host of its own: its own cache folder, so only the lease separates them
    folders = threading.local()
    monkeypatch.setattr(jobs, "cache_dir", lambda _s: folders.path)
    results, errors = [], []

    def load(part: Path) -> None:
        folders.path = tmp_path / f"cache-{part.stem}"
        folders.path.mkdir()
        try:
            results.append(Sentinel(settings).data.load("bets", [part]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with connect(settings) as wh:
        stored, distinct = wh.query("select count(*), count(distinct bet_id) from {raw}.bets")[0]
    assert stored == distinct == len(rows)
    assert sum(r.accepted for r in results) == len(rows)
    assert sum(r.already_present for r in results) == 400


def test_a_held_lease_names_its_holder_and_is_free_after_release(
    fakesnow_settings: Settings,
) -> None:
    with connect(fakesnow_settings) as wh:
        bootstrap(wh)
        other = Lease("deliver", 60)
        assert other.take(wh) is None
        mine = Lease("deliver", 60)
        holder = mine.take(wh)
        assert holder is not None and holder["owner"] == other.owner
        other.release(wh)
        assert mine.take(wh) is None
    busy = pytest.raises(BusyError, match=r"another deliver is running \(pid \d+ on ")
    with busy, exclusive_job(fakesnow_settings, "deliver", "wait"):
        pass


@pytest.mark.parametrize("backend", ["duckdb", "snowflake"])
def test_lost_lease_stops_writes(backend: str, request: pytest.FixtureRequest) -> None:
    """Issue #38: host A's lease is taken by host B (A stalled, or B's clock ran ahead); A's
    later writes are fenced off (exit 75, nothing recorded), B repairs A's run, B's own run
    records as usual."""
    from datetime import timedelta

    from dk_sentinel.errors import ExitCode, LeaseLost
    from dk_sentinel.models import BatchRun
    from dk_sentinel.scoring import _finish_run, _insert_run, _repair, new_run_id

    settings = request.getfixturevalue(
        "db_settings" if backend == "duckdb" else "fakesnow_settings"
    )

    def run_of(lease_started: Any) -> BatchRun:
        return BatchRun(
            run_id=new_run_id(lease_started), status="running", started_at=lease_started,
            as_of=AS_OF, scoring_version="4.0.0",
        )  # fmt: skip

    def status(wh: Any, run: BatchRun) -> str:
        return str(wh.query("select status from {ops}.scoring_runs where run_id = ?",
                            [run.run_id])[0][0])  # fmt: skip

    with connect(settings) as wh:
        bootstrap(wh)
        host_a = Lease("score-batch", 60)
        assert host_a.take(wh) is None
        run_a = run_of(AS_OF)
        _insert_run(wh, run_a, host_a)
        host_b = Lease("score-batch", 60)
        assert host_b.take(wh, force=True) is None  # what an expired lease lets B do
        assert host_b.generation == (host_a.generation or 0) + 1
        finished = run_a.model_copy(update={"status": "success", "finished_at": AS_OF})
        with pytest.raises(LeaseLost) as lost:
            _finish_run(wh, finished, host_a)
        assert lost.value.exit_code == ExitCode.BUSY  # 75, like any busy job
        assert status(wh, run_a) == "running"  # A recorded nothing, so nothing was published
        with pytest.raises(LeaseLost):
            _insert_run(wh, run_of(AS_OF + timedelta(seconds=1)), host_a)
        assert not host_a.renew(wh) and host_a.lost.is_set()
        assert wh.query("select owner from {ops}.job_leases where job = 'score-batch'")[0][0] == (
            host_b.owner
        )
        _repair(wh, host_b.owner)  # B's repair: A's run only, never B's own
        assert status(wh, run_a) == "failed"
        run_b = run_of(AS_OF + timedelta(seconds=2))
        _insert_run(wh, run_b, host_b)
        _repair(wh, host_b.owner)
        assert status(wh, run_b) == "running"
        _finish_run(wh, run_b.model_copy(update={"status": "success", "finished_at": AS_OF}),
                    host_b)  # fmt: skip
        assert status(wh, run_b) == "success"
        # a late success of A cannot overwrite the repair either: only a running run finishes
        with pytest.raises(LeaseLost):
            _finish_run(wh, finished, host_a)
        assert status(wh, run_a) == "failed"


@pytest.mark.parametrize("backend", ["duckdb", "snowflake"])
def test_a_load_whose_lease_was_taken_over_merges_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Issue #38: two inserts guarded only by "where not exists" do not block each other on
    Snowflake; the merge proves the ingest lease first, so a load that lost it stores nothing
    and the holder's load stores each bet once."""
    from dk_sentinel.errors import LeaseLost

    settings = request.getfixturevalue(
        "db_settings" if backend == "duckdb" else "fakesnow_settings"
    )
    gen = generate(tmp_path / "data", players=20, days=30, seed=4, as_of=AS_OF)
    with connect(settings) as wh:
        bootstrap(wh)
        stalled = Lease("ingest:bets", 60)
        assert stalled.take(wh) is None
        holder = Lease("ingest:bets", 60)
        assert holder.take(wh, force=True) is None
        with pytest.raises(LeaseLost):
            ingest(wh, "bets", [gen.files["bets"]], fence=stalled.fence)
        assert wh.query("select count(*) from {raw}.bets")[0][0] == 0
        loaded = ingest(wh, "bets", [gen.files["bets"]], fence=holder.fence)
        stored, distinct = wh.query("select count(*), count(distinct bet_id) from {raw}.bets")[0]
        assert loaded.accepted > 0 and stored == distinct == loaded.accepted


@pytest.mark.parametrize("backend", ["duckdb", "snowflake"])
def test_a_host_whose_clock_runs_ahead_cannot_take_an_unexpired_lease(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #38: a lease's expiry is written and compared on the warehouse's clock (Snowflake's
    SYSDATE(); the embedded file's one host), so host B, its clock 125 s ahead, finds host A's
    60-second lease still held instead of taking it over. The host's clock is what B's process
    would have read before (``jobs.utcnow``): moving it changes nothing now."""
    from datetime import timedelta

    from dk_sentinel.models import utcnow

    settings = request.getfixturevalue(
        "db_settings" if backend == "duckdb" else "fakesnow_settings"
    )
    with connect(settings) as wh:
        bootstrap(wh)
        host_a = Lease("score-batch", 60)
        assert host_a.take(wh) is None
        ahead = utcnow() + timedelta(seconds=125)
        monkeypatch.setattr("dk_sentinel.warehouse.jobs.utcnow", lambda: ahead)
        host_b = Lease("score-batch", 60)
        holder = host_b.take(wh)
        assert holder is not None and holder["owner"] == host_a.owner
        expires = holder["expires_at"]
        assert isinstance(expires, type(ahead)) and expires < ahead  # A's expiry: the warehouse's
        assert host_a.renew(wh)  # A still holds it
