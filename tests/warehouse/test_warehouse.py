"""Warehouse contract tests: the same tests on DuckDB and on Snowflake emulated by fakesnow."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dk_sentinel.config import Settings, load_settings
from dk_sentinel.errors import BusyError, SchemaError
from dk_sentinel.warehouse import Warehouse, connect
from dk_sentinel.warehouse.schema import SCHEMA_VERSION, bootstrap, check, require_current

#: Tests whose Snowflake warehouse starts without the schema.
EMPTY = {"test_bootstrap_is_idempotent", "test_require_current_on_empty_warehouse"}


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("snowflake", marks=pytest.mark.snowflake),
        pytest.param("snowflake_live", marks=pytest.mark.snowflake_live),
    ]
)
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "duckdb":
        yield load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
    elif request.param == "snowflake":
        # a bootstrapped copy, as the emulator's DDL is slow; the bootstrap test starts empty
        empty = request.node.originalname in EMPTY
        yield request.getfixturevalue("fakesnow_settings" if empty else "fakesnow_bootstrapped")
    else:  # a real account, skipped without SENTINEL_SNOWFLAKE_LIVE=1
        yield request.getfixturevalue("snowflake_live_settings")


@pytest.fixture
def wh(backend_settings: Settings) -> Iterator[Warehouse]:
    with connect(backend_settings) as warehouse:
        bootstrap(warehouse)
        yield warehouse


def test_bootstrap_is_idempotent(backend_settings: Settings) -> None:
    with connect(backend_settings) as wh:
        first = bootstrap(wh)
        second = bootstrap(wh)
        assert first.applied == list(range(1, SCHEMA_VERSION + 1))
        assert second.up_to_date and second.version_now == SCHEMA_VERSION
        assert wh.query("select count(*) from {ops}.schema_migrations")[0][0] == SCHEMA_VERSION


def test_newer_schema_is_refused(wh: Warehouse) -> None:
    wh.execute(
        "insert into {ops}.schema_migrations values (?, ?)",
        [SCHEMA_VERSION + 1, "2026-01-01 00:00:00"],
    )
    with pytest.raises(SchemaError, match="newer than this sentinel"):
        check(wh)


def test_require_current_on_empty_warehouse(backend_settings: Settings) -> None:
    with connect(backend_settings) as wh, pytest.raises(SchemaError, match="needs"):
        require_current(wh)


def test_parameters_round_trip_awkward_text(wh: Warehouse) -> None:
    text = 'O\'Brien said "stop"; drop table x; -- ünïcødé ✓\nsecond line'
    wh.execute(
        "insert into {ops}.intervention_events values (?, ?, ?, ?, ?, ?, ?)",
        ["e1", "i1", "PLR_1234_MA", "created", "2026-01-01 00:00:00", "ana", text],
    )
    rows = wh.query_dicts(
        "select detail, player_id from {ops}.intervention_events where event_id = ?", ["e1"]
    )
    assert rows == [{"detail": text, "player_id": "PLR_1234_MA"}]


def test_transaction_rolls_back_on_error(wh: Warehouse) -> None:
    with pytest.raises(RuntimeError), wh.transaction():
        wh.execute(
            "insert into {ops}.intervention_events values (?, ?, ?, ?, ?, ?, ?)",
            ["e2", "i1", "PLR_1234_MA", "created", "2026-01-01 00:00:00", "ana", "x"],
        )
        raise RuntimeError("boom")
    assert (
        wh.query("select count(*) from {ops}.intervention_events where event_id = 'e2'")[0][0] == 0
    )


def test_transaction_commits(wh: Warehouse) -> None:
    with wh.transaction():
        wh.execute(
            "insert into {ops}.intervention_events values (?, ?, ?, ?, ?, ?, ?)",
            ["e3", "i1", "PLR_1234_MA", "created", "2026-01-01 00:00:00", "ana", "x"],
        )
    assert (
        wh.query("select count(*) from {ops}.intervention_events where event_id = 'e3'")[0][0] == 1
    )


def test_query_arrow_returns_typed_columns_with_lower_case_names(wh: Warehouse) -> None:
    """The served assessments load a run's snapshot as Arrow, on both backends."""
    wh.execute("create or replace table {ops}.arrow_test (Player_Id varchar, score double)")
    wh.execute("insert into {ops}.arrow_test values ('PLR_1111_NJ', 0.5), ('PLR_2222_NJ', null)")
    table = wh.query_arrow("select * from {ops}.arrow_test where score > ? or score is null", [0.1])
    assert table.column_names == ["player_id", "score"]
    assert sorted(table.to_pylist(), key=str) == sorted(
        [{"player_id": "PLR_1111_NJ", "score": 0.5}, {"player_id": "PLR_2222_NJ", "score": None}],
        key=str,
    )
    assert wh.query_arrow("select * from {ops}.arrow_test where score > 1").num_rows == 0


def test_stage_bulk_loads_arrow(wh: Warehouse) -> None:
    data = pa.table({"k": ["a", "b", "c"], "v": [1.5, 2.5, None], "n": [1, 2, 3]})
    wh.stage("stage_test", data)
    assert wh.query("select count(*), sum(n) from stage_test") == [(3, 6)]


def test_duckdb_lock_waits_then_gives_up(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        settings = load_settings(
            overrides={"warehouse.duckdb.path": path, "warehouse.busy_timeout_seconds": 0.5}
        )
        started = time.monotonic()
        with pytest.raises(BusyError) as info:
            connect(settings).__enter__()
        assert 0.4 < time.monotonic() - started < 5
        assert f"process {holder.pid}" in info.value.message
        assert info.value.exit_code == 75
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    "backend", ["duckdb", pytest.param("snowflake", marks=pytest.mark.snowflake)]
)
def test_never_scored_warehouse_answers_empty_or_not_found(
    backend: str, runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request
) -> None:
    """Initialised, never scored: the queue is refused (exit 65, never "empty"), export and
    report are empty, analyze is 'not found'.

    Both clients raise the same typed error for a missing relation (Snowflake upper-cases names
    in its messages, so nothing may depend on the message text).
    """
    import json

    from conftest import invoke

    if backend == "snowflake":
        request.getfixturevalue("fakesnow_settings")  # patches the connector in-process
        for key, value in {
            "SENTINEL_WAREHOUSE__BACKEND": "snowflake",
            "SENTINEL_WAREHOUSE__SNOWFLAKE__ACCOUNT": "fakesnow",
            "SENTINEL_WAREHOUSE__SNOWFLAKE__USER": "tester",
            "SNOWFLAKE_PASSWORD": "fake-password",
        }.items():
            monkeypatch.setenv(key, value)
    else:
        monkeypatch.setenv("SENTINEL_WAREHOUSE__DUCKDB__PATH", str(tmp_path / "w.duckdb"))
    assert invoke(runner, "init").exit_code == 0
    queue = invoke(runner, "queue", "--format", "json")  # no queue yet: never "empty"
    assert queue.exit_code == 65 and "no scores yet" in queue.stderr, queue.stderr
    export = invoke(runner, "export", "scores", "--out", str(tmp_path / "s.json"))
    assert export.exit_code == 0, export.stderr
    assert json.loads((tmp_path / "s.json").read_text()) == []
    report = invoke(runner, "report", "--format", "json")
    assert report.exit_code == 0, report.stderr
    assert json.loads(report.stdout)["run_id"] is None
    analyze = invoke(runner, "analyze", "PLR_1234_NJ")
    assert analyze.exit_code == 3, analyze.stderr
    assert "not found" in analyze.stderr


def test_relation_missing_is_one_type_on_both_backends(backend_settings: Settings) -> None:
    from dk_sentinel.errors import RelationMissing

    with connect(backend_settings) as wh:
        bootstrap(wh)
        with pytest.raises(RelationMissing):
            wh.query("select * from {analytics}.rg_latest_risk_scores")


# ---- concurrent writers: the interventions guard ---------------------------------------------


def _assessment(player_id: str) -> Any:
    """The snapshot fields an intervention stores (no scoring run needed)."""
    from dk_sentinel.models import RiskAssessment

    return RiskAssessment.model_construct(
        player_id=player_id, run_id="R1", composite_risk_score=0.9, risk_category="CRITICAL"
    )


@pytest.mark.slow  # twenty threads and connections
def test_twenty_concurrent_identical_requests_store_exactly_one(
    backend_settings: Settings,
) -> None:
    """20 threads, one pooled connection each, the same idempotency key at the same moment."""
    import threading

    from dk_sentinel.interventions.records import create_intervention, parse_request
    from dk_sentinel.warehouse.pool import open_pool

    with connect(backend_settings) as first:
        bootstrap(first)
    pool = open_pool(backend_settings, size=20)
    start, results, errors = threading.Barrier(20), [], []

    def post(key: str, player: str) -> None:
        request = parse_request(player_id=player, intervention_type="timeout", duration_hours=24,
                                reason="Chasing losses after midnight", analyst_id="ana01",
                                idempotency_key=key)  # fmt: skip
        start.wait()
        try:
            with pool.connect() as wh:
                results.append(create_intervention(wh, request, _assessment(player)))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post, args=("crm-1", "PLR_1234_MA")) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with connect(backend_settings) as wh:
            stored = wh.query(
                "select intervention_id from {ops}.interventions where idempotency_key = 'crm-1'"
            )
            events = wh.query("select count(*) from {ops}.intervention_events")[0][0]
            outbox = wh.query("select count(*) from {ops}.outbox")[0][0]
    finally:
        pool.close()
    assert errors == []
    assert len(stored) == 1 and events == 1 and outbox == 1
    assert {r.intervention_id for r in results} == {stored[0][0]}


def test_thirty_days_of_hourly_runs_thin_to_a_week_of_runs_and_one_a_day(
    backend_settings: Settings,
) -> None:
    """History retention: 720 hourly runs -> 7 days of every run, then the last run a day."""
    from datetime import datetime, timedelta

    from dk_sentinel.config import HistorySettings
    from dk_sentinel.scoring import prune_history

    start, players = datetime(2026, 11, 1), ["PLR_1001_NJ", "PLR_1002_NJ"]
    with connect(backend_settings) as wh:
        bootstrap(wh)
        wh.execute("create table {analytics}.rg_risk_scores "
                   "(run_id varchar, player_id varchar, as_of timestamp)")  # fmt: skip
        runs = [(f"R{h:04d}", start + timedelta(hours=h)) for h in range(30 * 24)]
        rows = ", ".join(f"('{run_id}', '{as_of:%Y-%m-%d %H:%M:%S}')" for run_id, as_of in runs)
        wh.execute(
            "insert into {ops}.scoring_runs (run_id, status, kind, started_at, finished_at, as_of) "
            f"select r, 'success', 'live', cast(t as timestamp), cast(t as timestamp), "
            f"cast(t as timestamp) from (values {rows}) v(r, t)"
        )  # one statement: 720 single inserts take seconds on the emulator
        wh.execute("insert into {ops}.scoring_runs (run_id, status, kind, started_at, as_of) "
                   "values ('RFAIL', 'failed', 'live', ?, ?)", [start, start])  # fmt: skip
        wh.execute("insert into {ops}.scoring_runs (run_id, status, kind, started_at, as_of) "
                   "values ('REPLAY', 'success', 'replay', ?, ?)", [start, start])  # fmt: skip
        wh.execute(
            "insert into {analytics}.rg_risk_scores select run_id, p, as_of from {ops}.scoring_runs "
            "cross join (values " + ", ".join(f"('{p}')" for p in players) + ") v(p)"
        )
        newest = runs[-1][1]
        policy = HistorySettings(keep_every_run_days=7, max_age_days=400)
        thinned = prune_history(wh, newest, policy)
        assert prune_history(wh, newest, policy) == thinned  # idempotent: same runs, no rows
        kept = wh.query("select run_id, count(*) from {analytics}.rg_risk_scores "
                        "group by run_id order by run_id")  # fmt: skip
        old_days = wh.query(
            "select count(distinct cast(as_of as date)) from {analytics}.rg_risk_scores "
            "where as_of < ? and run_id <> 'REPLAY'",
            [newest - timedelta(days=7)],
        )[0][0]
        gone = HistorySettings(keep_every_run_days=7, max_age_days=31)
        prune_history(wh, newest + timedelta(days=10), gone)
        oldest = wh.query("select min(as_of) from {analytics}.rg_risk_scores "
                          "where run_id <> 'REPLAY'")[0][0]  # fmt: skip
    cutoff = newest - timedelta(days=7)
    recent = [r for r, at in runs if at >= cutoff]
    last_aged_of_each_day = {
        max(r for r, at in runs if at < cutoff and at.date() == day)
        for day in {at.date() for _, at in runs if at < cutoff}
    }
    assert {r for r, _ in kept} == {*recent, "REPLAY", *last_aged_of_each_day}
    assert all(n == 2 for _, n in kept)  # one row per player per kept run
    assert old_days == 23 and len(kept) == len(recent) + 23 + 1  # 169 + 23 daily + the replay
    assert oldest >= newest + timedelta(days=10) - timedelta(days=31)


def test_new_codes_on_open_cases_are_written_set_based(wh: Warehouse) -> None:
    """A run that brings new codes to hundreds of open cases: each case's triggers become the
    union, with one 'signal' event naming the new codes (more cases than one statement takes)."""
    from datetime import datetime

    from dk_sentinel.interventions.cases import list_cases, open_or_update

    wh.execute("create schema if not exists {analytics}")
    wh.execute(
        "create or replace table {analytics}.rg_fired_triggers (run_id varchar, "
        "player_id varchar, state varchar, pack varchar, code varchar, deadline_hours double, "
        "crossed_at timestamp, window_days bigint, is_current boolean, locks_case boolean, "
        "value double, evidence_count bigint, population_rise_pct double)"
    )
    wh.execute(
        "create or replace table {analytics}.rg_risk_scores (run_id varchar, player_id varchar, "
        "composite_risk_score double, risk_category varchar)"
    )
    # the latest published run (a dbt view in production: only its flags open cases)
    wh.execute("create or replace table {analytics}.rg_latest_run (run_id varchar)")
    wh.execute("insert into {analytics}.rg_latest_run values ('r1')")
    players = [f"PLR_{1000 + i}_NJ" for i in range(620)]
    wh.insert_rows("{analytics}.rg_risk_scores", [["r1", p, 0.7, "HIGH"] for p in players])
    as_of, now = datetime(2026, 11, 1, 0, 0), datetime(2026, 11, 1, 0, 30)
    sla = {"CRITICAL": 2, "HIGH": 24}
    assert open_or_update(wh, "r1", as_of, sla, now) == 620
    wh.insert_rows("{analytics}.rg_risk_scores", [["r2", p, 0.9, "CRITICAL"] for p in players])
    wh.insert_rows("{analytics}.rg_fired_triggers",
                   [["r2", players[0], "NJ", "nj", "NJ-DEP-24H", 72.0,
                     datetime(2026, 11, 1, 0, 50), 1, True, True, 10500.0, 2, None]])  # fmt: skip
    later = datetime(2026, 11, 1, 1, 30)
    wh.execute("update {analytics}.rg_latest_run set run_id = 'r2'")
    assert open_or_update(wh, "r2", datetime(2026, 11, 1, 1, 0), sla, later) == 620
    cases = {c.player_id: c for c in list_cases(wh, later)}
    assert len(cases) == 620
    assert cases[players[0]].triggers == ["NJ-DEP-24H", "RISK-CRITICAL", "RISK-HIGH"]
    assert cases[players[-1]].triggers == ["RISK-CRITICAL", "RISK-HIGH"]
    signals = wh.query(
        "select player_id, detail from {ops}.case_events where event_type = 'signal' "
        "order by player_id"
    )
    assert len(signals) == 620
    assert signals[0] == (players[0], "NJ-DEP-24H,RISK-CRITICAL")
    assert signals[-1] == (players[-1], "RISK-CRITICAL")
    assert open_or_update(wh, "r2", datetime(2026, 11, 1, 1, 0), sla, later) == 0  # nothing new
