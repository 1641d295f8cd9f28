"""Risk scoring: ``score_batch()`` runs the packaged dbt project under a lock, with a run log.

A run: take the scoring lock (a second run exits 75 naming the holder; the OS frees the lock
of a killed run) -> repair leftovers of interrupted runs -> count bets loaded since the last
successful run's watermark (none: record a "skipped" run) -> record the run as ``running`` ->
``dbt build`` (seeds, models, data tests) in a child process, the models reading the run's
identity from its ``running`` row -> record the outcome.
The watermark advances and the scores become visible (``rg_latest_run`` and
``rg_latest_risk_scores``) only when the run succeeded, so a crash or ``kill -9`` leaves the
previous scores intact; the read path's snapshots (tag ``served``) are built in the run only
once its checks pass.
"""

from __future__ import annotations

import csv
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dk_sentinel.config import HistorySettings, Settings
from dk_sentinel.errors import RelationMissing, SentinelError
from dk_sentinel.jurisdictions import publish_rules
from dk_sentinel.models import BatchRun, utcnow
from dk_sentinel.scoring.dbt import (
    PROJECT_DIR,
    SCORING_VERSION,
    DbtResult,
    dbt_vars,
    run_dbt,
    running_as,
)
from dk_sentinel.vocabulary import RunKind
from dk_sentinel.warehouse import (
    Connections,
    DirectConnections,
    Warehouse,
    lent_to_a_child_process,
    page_clause,
)
from dk_sentinel.warehouse.jobs import Lease, exclusive_job
from dk_sentinel.warehouse.schema import require_current

log = logging.getLogger(__name__)
#: Runs one dbt command: ``(settings, command, vars) -> DbtResult``.
DbtCommand = Callable[[Settings, list[str], Mapping[str, Any] | None], DbtResult]

_RUN_COLUMNS = (
    "run_id, status, coalesce(kind, 'live') as kind, started_at, finished_at, as_of, watermark, "
    "new_bets, players_scored, tests_passed, tests_failed, scoring_version, profile_version, error"
)
#: The latest published run (successful and live): the dbt view that decides it, the one place.
LATEST_RUN = "{analytics}.rg_latest_run"
#: The applied scoring profile, in SQL over ``scoring_profiles`` (at most one row matches;
#: the dbt macro ``active_profile`` uses the same condition).
ACTIVE_PROFILE = "activated_at is not null and deactivated_at is null"


def new_run_id(started: datetime | None = None) -> str:
    """A scoring run's id: its start time (UTC) and a random suffix."""
    return f"{(started or utcnow()):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def scoring_lock(
    settings: Settings, connections: Connections | None = None
) -> AbstractContextManager[Lease]:
    """Hold the scoring lease, or raise :class:`BusyError` naming the holder and its host."""
    return exclusive_job(
        settings, "score-batch", "Wait for it to finish; cron will run the next one on schedule.",
        connections=connections,
    )  # fmt: skip


def _row_to_run(row: dict[str, object]) -> BatchRun:
    return BatchRun.model_validate({k: v for k, v in row.items() if v is not None})


def list_runs(wh: Warehouse, limit: int = 20, offset: int = 0) -> list[BatchRun]:
    """The most recent scoring runs, newest first.

    Args:
        wh: An open warehouse.
        limit: How many.
        offset: Skip this many first (a page's start).

    Returns:
        Runs.
    """
    rows = wh.query_dicts(
        f"select {_RUN_COLUMNS} from {{ops}}.scoring_runs order by started_at desc, run_id desc"
        f"{page_clause(limit, offset)}",
    )
    return [_row_to_run(r) for r in rows]


def last_successful_run(wh: Warehouse) -> BatchRun | None:
    """The latest published run (successful and live), if any: the row of ``rg_latest_run``.

    None too before the first run has built the view (a new warehouse, or one scored by a
    release without it: the next run builds it).
    """
    try:
        rows = wh.query_dicts(f"select * from {LATEST_RUN}")
    except RelationMissing:
        return None
    return _row_to_run(rows[0]) if rows else None


def active_profile_version(wh: Warehouse) -> str | None:
    """The version of the applied scoring profile (``sentinel calibrate --apply``), if any.

    The dbt models read the same row (macro ``active_profile``): one rule, in SQL.
    """
    rows = wh.query(f"select profile_version from {{ops}}.scoring_profiles where {ACTIVE_PROFILE}")
    return str(rows[0][0]) if rows else None


def _table_exists(wh: Warehouse, name: str) -> bool:
    rows = wh.query(
        "select count(*) from information_schema.tables "
        "where lower(table_schema) = lower(?) and lower(table_name) = lower(?)",
        [wh.schemas.analytics, name],
    )
    return bool(rows[0][0])


def _column_exists(wh: Warehouse, table: str, column: str) -> bool:
    rows = wh.query(
        "select count(*) from information_schema.columns where lower(table_schema) = lower(?) "
        "and lower(table_name) = lower(?) and lower(column_name) = lower(?)",
        [wh.schemas.analytics, table, column],
    )
    return bool(rows[0][0])


#: A column each kept derived table must have: one added by a release means the table is
#: rebuilt from raw at the next run (scoring v3 added the sum of ln(stake) of each player-day).
DERIVED_COLUMNS = {"int_player_days": "log_stake_sum"}


def _scores_table_exists(wh: Warehouse) -> bool:
    return _table_exists(wh, "rg_risk_scores")


def _as_text(value: object) -> str:
    """A seed cell as its CSV text (how the warehouse types it does not matter)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float | Decimal) and value == int(value):
        return str(int(value))
    return str(value)


def seeds_current(wh: Warehouse) -> bool:
    """Whether the warehouse holds the packaged seeds exactly (then a run need not reload them).

    The seeds are reference data (time zones, daylight-saving dates) that change with a
    release, not with the bets: reloading them every run cost two dbt nodes. When they do
    change, the bets' local times are recomputed too (``int_bets_localised`` is rebuilt).
    """
    if not _table_exists(wh, "int_bets_localised"):  # the local times were never computed
        return False
    for table, column in DERIVED_COLUMNS.items():  # a derived table of an older release
        if _table_exists(wh, table) and not _column_exists(wh, table, column):
            return False
    for path in sorted((PROJECT_DIR / "seeds").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        if not _table_exists(wh, path.stem):
            return False
        stored = wh.query(f"select {', '.join(header)} from {{analytics}}.{path.stem}")
        if sorted(tuple(_as_text(v) for v in row) for row in stored) != sorted(map(tuple, rows)):
            return False
    return True


def _named_failures(wh: Warehouse, result: DbtResult) -> list[str]:
    """The failed checks by name: each failed test's query again, its rows as "name (n rows)"."""
    named = []
    for sql in result.failed_test_sql:
        try:
            rows = wh.query(sql)
        except Exception:
            return result.failures
        named += [f"{row[0]} ({row[1]} rows)" if len(row) > 1 else str(row[0]) for row in rows]
    return named or result.failures


def _repair(wh: Warehouse, owner: str) -> None:
    """Mark runs left 'running' by a lease that is gone as failed and drop their partial rows.

    ``owner`` holds the lease now, so every other owner's run was left by a job that died or
    lost its lease (its own later writes are fenced off).
    """
    stale = [
        r[0]
        for r in wh.query(
            "select run_id from {ops}.scoring_runs "
            "where status = 'running' and coalesce(owner, '') <> ?",
            [owner],
        )
    ]
    if not stale:
        return
    log.warning("repairing %d interrupted scoring run(s): %s", len(stale), ", ".join(stale))
    with wh.transaction():
        for run_id in stale:
            if _scores_table_exists(wh):
                wh.execute("delete from {analytics}.rg_risk_scores where run_id = ?", [run_id])
            wh.execute(
                "update {ops}.scoring_runs set status = 'failed', finished_at = ?, "
                "error = 'interrupted: the process ended before the run finished' "
                "where run_id = ?",
                [utcnow(), run_id],
            )


def _insert_run(wh: Warehouse, run: BatchRun, lease: Lease) -> None:
    with wh.transaction():
        lease.fence(wh)
        wh.execute(
            "insert into {ops}.scoring_runs (run_id, status, kind, started_at, finished_at, "
            "as_of, watermark, new_bets, players_scored, tests_passed, tests_failed, "
            "scoring_version, profile_version, pid, error, owner) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id, run.status, run.kind, run.started_at, run.finished_at, run.as_of,
                run.watermark, run.new_bets, run.players_scored, run.tests_passed,
                run.tests_failed, run.scoring_version, run.profile_version, os.getpid(),
                run.error, lease.owner,
            ],
        )  # fmt: skip


def prune_history(wh: Warehouse, now: datetime, policy: HistorySettings) -> int:
    """Thin the live score history: every run for a while, then one run a day, then nothing.

    Rows of live runs whose as-of is older than ``keep_every_run_days`` are deleted unless the
    run is the last successful one of its UTC day, and all rows older than ``max_age_days``.
    Replays (``sentinel backtest --replay``, calibration) are kept: one run per replayed as-of,
    asked for on purpose. Every run scores every active player, so what is kept is
    one score per player per day: the 7/30-day changes, ``analyze --history``, backtests and
    the intervention report read the same answers. The runs themselves stay in the run log.

    Args:
        wh: An open warehouse.
        now: The time the ages are measured from (the as-of of the run just published).
        policy: ``[scoring.history]``.

    Returns:
        How many runs had their rows deleted.
    """
    every = now - timedelta(days=policy.keep_every_run_days)
    oldest = now - timedelta(days=policy.max_age_days)
    doomed = [
        r[0]
        for r in wh.query(
            "select run_id from (select run_id, status, as_of, row_number() over ("
            "partition by cast(as_of as date), coalesce(kind, 'live'), status "
            "order by as_of desc, finished_at desc, run_id desc) as nth "
            "from {ops}.scoring_runs where as_of < ? and status not in ('running', 'skipped') "
            "and coalesce(kind, 'live') = 'live'"
            ") as aged where status <> 'success' or nth > 1 or as_of < ?",
            [every, oldest],
        )
    ]
    if not doomed or not _scores_table_exists(wh):
        return 0
    with wh.transaction():
        for start in range(0, len(doomed), 500):
            chunk = doomed[start : start + 500]
            wh.execute(
                "delete from {analytics}.rg_risk_scores "
                f"where run_id in ({', '.join('?' for _ in chunk)})",
                chunk,
            )
    log.info("score history: thinned %d run(s) older than %d days", len(doomed),
             policy.keep_every_run_days)  # fmt: skip
    return len(doomed)


#: The read path's snapshots, one row per player, laid out for point lookups: the run's score
#: rows and its money picture (dbt models tagged ``served``, built in the run once its checks
#: pass; a reader checks the run id, so a snapshot of a run not published is never served).
SERVED_SCORES = "{analytics}.rg_served_scores"
SERVED_MONEY = "{analytics}.rg_served_money"


def _finish_run(wh: Warehouse, run: BatchRun, lease: Lease) -> None:
    """Record how the run ended, only while this job still holds the lease.

    Raises:
        LeaseLost: Another host took the lease over (and repairs this run): nothing is
            recorded and nothing published.
    """
    with wh.transaction():
        lease.fence(wh)
        if run.status == "success" and run.kind == "live":
            # publishing takes turns with the cases' writers (their guarded transaction), so
            # a case writer's "is my run still the latest?" is answered after this commits
            wh.execute("update {ops}.write_guards set touched_at = ? where name = 'cases'",
                       [run.finished_at])  # fmt: skip
        wh.execute(
            "update {ops}.scoring_runs set status = ?, finished_at = ?, watermark = ?, "
            "players_scored = ?, tests_passed = ?, tests_failed = ?, error = ? "
            "where run_id = ? and status = 'running'",
            [
                run.status, run.finished_at, run.watermark, run.players_scored, run.tests_passed,
                run.tests_failed, run.error, run.run_id,
            ],
        )  # fmt: skip


def score_batch(
    settings: Settings,
    *,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    kind: RunKind = "live",
    progress: Callable[[str], None] | None = None,
    dbt: DbtCommand = run_dbt,
    run_id: str | None = None,
    connections: Connections | None = None,
) -> BatchRun:
    """Score every player whose windows changed; the cron entry point.

    Args:
        settings: Loaded settings (the warehouse is opened and closed here, around dbt).
        as_of: Score as of this time (UTC); default now. Forces a run.
        full_refresh: Score even when no bets arrived since the last run, and rebuild the
            derived tables (the bets' local times) from the raw bets; the score history is
            never rebuilt.
        kind: ``live`` (the default; its scores become the latest) or ``replay`` (a past
            as-of for backtests: kept in the history, never published as latest).
        progress: Called with a short status line at each step.
        dbt: How dbt runs: in a child process (:func:`run_dbt`, cron) or a
            :class:`~dk_sentinel.scoring.dbt.ResidentDbt` (serve's scheduler).
        run_id: The new run's id (default: made from the start time).
        connections: Where connections come from (default: opened and closed here; a
            server passes its pool).

    Returns:
        The recorded run: ``success``, ``skipped``, ``tests_failed`` (nothing published) or
        ``failed`` (the previous scores are intact); ``run.failure()`` is the problem to
        report after showing it.

    Raises:
        BusyError: Another score-batch holds the lock.
    """
    say = progress or (lambda _msg: None)
    connect = (connections or DirectConnections(settings)).connect
    with scoring_lock(settings, connections) as lease:
        # Whole seconds: the models read these back as text, identically on every warehouse.
        started = utcnow().replace(microsecond=0)
        if as_of is not None and as_of.tzinfo is not None:
            as_of = as_of.astimezone(UTC).replace(tzinfo=None)
        run = BatchRun(
            run_id=run_id or new_run_id(started),
            status="running",
            started_at=started,
            as_of=as_of.replace(microsecond=0) if as_of else started,
            kind=kind,
            scoring_version=SCORING_VERSION,
        )
        with connect() as wh:
            require_current(wh)
            _repair(wh, lease.owner)
            # A run starts strictly after the previous one (the derived tables tell the rows
            # a run added by its start time), even if the clock stepped back.
            latest = wh.query("select max(started_at) from {ops}.scoring_runs")[0][0]
            if latest is not None and run.started_at <= latest:
                run.started_at = latest + timedelta(seconds=1)
            run.profile_version = active_profile_version(wh)
            previous = last_successful_run(wh)
            watermark = wh.query("select max(loaded_at) from {raw}.bets")[0][0]
            since = previous.watermark if previous and previous.watermark else None
            new_bets = wh.query(
                "select count(*) from {raw}.bets where loaded_at > ?",
                [since or datetime(1970, 1, 1)],
            )[0][0]
            run.new_bets = int(new_bets)
            run.watermark = watermark
            if run.new_bets == 0 and as_of is None and not full_refresh and kind == "live":
                run.status, run.finished_at = "skipped", wh.clock()
                run.error = "skipped: no new bets since the last successful run"
                run.watermark = since
                _insert_run(wh, run, lease)
                log.info("score-batch skipped: no new bets since the last successful run")
                return run
            _insert_run(wh, run, lease)
            publish_rules(wh, settings)  # the jurisdiction triggers this run evaluates
            build = ["build"]
            if seeds_current(wh):
                build += ["--exclude-resource-type", "seed"]
            else:  # new or changed reference data: every bet's local time is recomputed
                full_refresh = True
            if full_refresh:  # rebuilds the derived tables from raw (never the score history)
                build.append("--full-refresh")
            if kind == "replay":  # a past as-of never replaces the read path's snapshots
                build += ["--exclude", "tag:served"]
        say(f"running dbt (as of {run.as_of:%Y-%m-%d %H:%M})")
        try:
            with lent_to_a_child_process(settings), running_as(run.run_id):
                result = dbt(settings, build, dbt_vars(settings))
        except SentinelError as exc:  # dbt could not run, or its sign-in could not be had
            with connect() as wh:
                run.status, run.finished_at, run.error = "failed", wh.clock(), exc.message
                run.watermark = None
                _finish_run(wh, run, lease)
            return run
        say("recording the run")
        with connect() as wh:
            # the warehouse's clock: rg_latest_run orders published runs by it, across hosts
            run.finished_at, run.log_file = wh.clock(), result.log_file
            run.tests_passed, run.tests_failed = result.tests_passed, result.tests_failed
            if result.models_ok and _scores_table_exists(wh):
                run.players_scored = int(
                    wh.query(
                        "select count(*) from {analytics}.rg_risk_scores where run_id = ?",
                        [run.run_id],
                    )[0][0]
                )
            if result.ok:
                run.status = "success"
            else:
                run.status = "tests_failed" if result.models_ok else "failed"
                failures = _named_failures(wh, result) if result.tests_failed else result.failures
                run.error = "; ".join(failures)[:2000]
                run.watermark = None
            _finish_run(wh, run, lease)
            if run.status == "success" and run.kind == "live":
                prune_history(wh, run.as_of, settings.scoring.history)
    log.info(
        "score-batch %s: %d players scored as of %s, %d new bets, %d tests passed (%.1f s)",
        run.run_id, run.players_scored, run.as_of, run.new_bets, run.tests_passed, run.seconds or 0,
    )  # fmt: skip
    return run


__all__ = [
    "ACTIVE_PROFILE",
    "LATEST_RUN",
    "SERVED_MONEY",
    "SERVED_SCORES",
    "DbtCommand",
    "active_profile_version",
    "last_successful_run",
    "list_runs",
    "new_run_id",
    "prune_history",
    "score_batch",
    "scoring_lock",
    "seeds_current",
]
