"""Versioned schema bootstrap: the raw contract tables and the operational tables.

Each migration is a list of idempotent, portable DDL statements, recorded in
``{ops}.schema_migrations``. Applying twice is a no-op; a warehouse migrated by newer code is
refused rather than silently misread.
"""

from __future__ import annotations

import logging
import re

from dk_sentinel.errors import RelationMissing, SchemaError
from dk_sentinel.models import Document, utcnow
from dk_sentinel.warehouse import Warehouse

log = logging.getLogger(__name__)

_V1 = [
    "create schema if not exists {raw}",
    "create schema if not exists {ops}",
    "create schema if not exists {analytics}",
    """create table if not exists {raw}.bets (
        bet_id varchar not null, player_id varchar not null, placed_at timestamp not null,
        settled_at timestamp, sport varchar not null, market varchar, is_live boolean not null,
        odds_decimal decimal(12, 4) not null, stake decimal(18, 4) not null,
        payout decimal(18, 4), status varchar not null,
        source_file varchar, load_id varchar, loaded_at timestamp not null)""",
    """create table if not exists {raw}.assessments (
        assessment_id varchar not null, player_id varchar not null,
        assessed_at timestamp not null, risk_score decimal(6, 2) not null,
        sensitivity_to_loss decimal(6, 2), sensitivity_to_reward decimal(6, 2),
        risk_tolerance decimal(6, 2), decision_consistency decimal(6, 2),
        source_file varchar, load_id varchar, loaded_at timestamp not null)""",
    """create table if not exists {raw}.outcomes (
        player_id varchar not null, event_at timestamp not null, event_type varchar not null,
        source_file varchar, load_id varchar, loaded_at timestamp not null)""",
    """create table if not exists {ops}.ingest_loads (
        load_id varchar not null, kind varchar not null, source_file varchar not null,
        rows_read bigint not null, accepted bigint not null, already_present bigint not null,
        rejected bigint not null, loaded_at timestamp not null)""",
    """create table if not exists {ops}.ingest_rejects (
        load_id varchar not null, kind varchar not null, source_file varchar not null,
        line_number bigint, raw_record varchar, reasons varchar not null,
        rejected_at timestamp not null)""",
    """create table if not exists {ops}.scoring_runs (
        run_id varchar not null, status varchar not null, started_at timestamp not null,
        finished_at timestamp, as_of timestamp not null, watermark timestamp,
        new_bets bigint, players_scored bigint, tests_passed bigint, tests_failed bigint,
        scoring_version varchar, pid bigint, error varchar)""",
    """create table if not exists {ops}.interventions (
        intervention_id varchar not null, player_id varchar not null,
        intervention_type varchar not null, duration_hours bigint, reason varchar not null,
        analyst_id varchar not null, created_at timestamp not null, expires_at timestamp,
        idempotency_key varchar, run_id varchar, composite_risk_score double,
        risk_category varchar, customer_message varchar, cancelled_at timestamp,
        cancel_reason varchar, superseded_by varchar)""",
    """create table if not exists {ops}.intervention_events (
        event_id varchar not null, intervention_id varchar not null, player_id varchar not null,
        event_type varchar not null, occurred_at timestamp not null, analyst_id varchar,
        detail varchar)""",
    """create table if not exists {ops}.explanations (
        player_id varchar not null, run_id varchar not null, model varchar not null,
        prompt_version varchar not null, source varchar not null, payload varchar not null,
        created_at timestamp not null)""",
]

#: Version 2 (issue "closing the loop"): run kinds (replays of past as-ofs for backtests,
#: never shown as latest), scoring profiles learned from outcomes, the interventions outbox
#: and its delivery log.
_V2 = [
    "alter table {ops}.scoring_runs add column if not exists kind varchar",
    "alter table {ops}.scoring_runs add column if not exists profile_version varchar",
    """create table if not exists {ops}.scoring_profiles (
        profile_version varchar not null, created_at timestamp not null,
        horizon_days bigint not null, event_types varchar not null,
        intercept double not null, players bigint not null, positives bigint not null,
        cv_auc double, cv_auc_composite double, brier double, report varchar not null,
        activated_at timestamp, deactivated_at timestamp)""",
    """create table if not exists {ops}.scoring_profile_terms (
        profile_version varchar not null, feature varchar not null,
        transform varchar not null, center double not null, scale double not null,
        coefficient double not null)""",
    """create table if not exists {ops}.outbox (
        item_id varchar not null, intervention_id varchar not null,
        player_id varchar not null, action varchar not null, payload varchar not null,
        created_at timestamp not null, status varchar not null, attempts bigint not null,
        next_attempt_at timestamp not null, delivered_at timestamp, channel varchar,
        last_status_code bigint, last_error varchar)""",
    """create table if not exists {ops}.outbox_attempts (
        item_id varchar not null, attempt bigint not null, attempted_at timestamp not null,
        status_code bigint, error varchar, elapsed_ms double)""",
]

#: Version 3 (issue "sentinel serve"): API keys, stored hashed.
_V3 = [
    """create table if not exists {ops}.api_keys (
        key_id varchar not null, key_hash varchar not null, analyst_id varchar not null,
        role varchar not null, created_at timestamp not null, revoked_at timestamp)""",
]

#: Ordered migrations: version -> statements.
#: v4: one guard row per kind of guarded write. A writer updates its row first thing in its
#: transaction, so writers of that kind take turns: Snowflake holds the row's lock until
#: commit (it enforces no unique keys), DuckDB rolls the later one back (WriteConflict).
_V4 = [
    """create table if not exists {ops}.write_guards (
        name varchar not null, touched_at timestamp)""",
    """insert into {ops}.write_guards (name, touched_at)
        select 'interventions', null
        where not exists (select 1 from {ops}.write_guards where name = 'interventions')""",
]
#: v5: one lease row per exclusive job (``warehouse.jobs``): taken by a conditional UPDATE, so
#: it holds across hosts on Snowflake, where a file lock cannot.
_V5 = [
    """create table if not exists {ops}.job_leases (
        job varchar not null, owner varchar, host varchar, pid bigint, command varchar,
        acquired_at timestamp, heartbeat_at timestamp, expires_at timestamp)""",
    *(
        f"""insert into {{ops}}.job_leases (job)
        select '{job}' where not exists (select 1 from {{ops}}.job_leases where job = '{job}')"""
        for job in (
            "score-batch",
            "deliver",
            "ingest:bets",
            "ingest:assessments",
            "ingest:outcomes",
        )
    ),
]
#: v6 (data contract v1.1): payments (each status change a row: the history is kept) and the
#: players' use of responsible-gaming tools and their account.
_V6 = [
    """create table if not exists {raw}.payments (
        payment_id varchar not null, player_id varchar not null,
        requested_at timestamp not null, completed_at timestamp, kind varchar not null,
        status varchar not null, amount decimal(18, 4) not null, method_id varchar,
        source_file varchar, load_id varchar, loaded_at timestamp not null)""",
    """create table if not exists {raw}.account_events (
        event_id varchar not null, player_id varchar not null, occurred_at timestamp not null,
        event_type varchar not null, value decimal(18, 4), period varchar,
        source_file varchar, load_id varchar, loaded_at timestamp not null)""",
    *(
        f"""insert into {{ops}}.job_leases (job)
        select '{job}' where not exists (select 1 from {{ops}}.job_leases where job = '{job}')"""
        for job in ("ingest:payments", "ingest:account_events")
    ),
    # the jurisdiction triggers a run evaluates (dk_sentinel.jurisdictions writes them)
    """create table if not exists {ops}.trigger_rules (
        state varchar not null, pack varchar not null, pack_version varchar not null,
        code varchar not null, regulation varchar not null, marker varchar not null,
        window_days bigint not null, comparison varchar not null, threshold double not null,
        severity varchar not null, action varchar not null, deadline_hours bigint not null,
        published_at timestamp not null)""",
    # cases with a regulatory clock (dk_sentinel.interventions.cases) and their audit trail
    """create table if not exists {ops}.cases (
        case_id varchar not null, player_id varchar not null, jurisdiction varchar not null,
        pack varchar not null, state varchar not null, triggers varchar not null,
        opened_at timestamp not null, due_at timestamp not null,
        last_signal_at timestamp not null, composite_at_open double, category_at_open varchar,
        failed_contacts bigint not null, closed_at timestamp, close_reason varchar)""",
    """insert into {ops}.write_guards (name, touched_at)
        select 'cases', null
        where not exists (select 1 from {ops}.write_guards where name = 'cases')""",
    """create table if not exists {ops}.case_events (
        event_id varchar not null, case_id varchar not null, player_id varchar not null,
        event_type varchar not null, occurred_at timestamp not null, analyst_id varchar,
        detail varchar)""",
]
#: v7 (cases a regulator can audit): a rule's minimum evidence, reading and whether its case
#: locks the player on the list; each trigger crossing recorded once (so a late file opens the
#: case it should have, dated when the threshold was crossed, and a rescore opens nothing twice)
_V7 = [
    "alter table {ops}.trigger_rules add column if not exists reading varchar",
    "alter table {ops}.trigger_rules add column if not exists min_sessions bigint",
    "alter table {ops}.trigger_rules add column if not exists min_prior_hours double",
    "alter table {ops}.trigger_rules add column if not exists locks_case boolean",
    "alter table {ops}.cases add column if not exists triggered_at timestamp",
    "alter table {ops}.cases add column if not exists locks_player boolean",
    "alter table {ops}.cases add column if not exists assigned_to varchar",
    # an API key may expire (api-keys create --expires-in, api-keys rotate)
    "alter table {ops}.api_keys add column if not exists expires_at timestamp",
    # the console's sessions: the cookie holds an opaque token, never the API key
    """create table if not exists {ops}.console_sessions (
        session_hash varchar not null, key_id varchar not null, created_at timestamp not null,
        last_seen_at timestamp not null, expires_at timestamp not null, ended_at timestamp)""",
    # one player worked by one analyst at a time: a claim on a queue item, until it expires
    """create table if not exists {ops}.queue_claims (
        player_id varchar not null, analyst_id varchar not null, claimed_at timestamp not null,
        expires_at timestamp not null)""",
    """insert into {ops}.write_guards (name, touched_at)
        select 'claims', null
        where not exists (select 1 from {ops}.write_guards where name = 'claims')""",
    """create table if not exists {ops}.trigger_firings (
        player_id varchar not null, code varchar not null, crossed_at timestamp not null,
        value double, run_id varchar not null, detected_at timestamp not null)""",
]
#: v8: fencing. A lease's generation counts its takings (the fencing token a job's writes
#: prove); a scoring run records the lease owner that started it, so a repair touches only the
#: runs of a lease that is gone.
_V8 = [
    "alter table {ops}.job_leases add column if not exists generation bigint",
    "alter table {ops}.scoring_runs add column if not exists owner varchar",
]
MIGRATIONS: dict[int, list[str]] = {
    1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7, 8: _V8
}  # fmt: skip
SCHEMA_VERSION = max(MIGRATIONS)


def _typed(wh: Warehouse, statement: str) -> str:
    """The DDL for this warehouse: ``timestamp`` is ``timestamp_ntz`` on Snowflake.

    Stated, not left to the account's TIMESTAMP_TYPE_MAPPING (the sessions are pinned too).
    """
    ddl = statement.lstrip().lower().startswith(("create", "alter"))
    if wh.backend != "snowflake" or not ddl:
        return statement
    return re.sub(r"\btimestamp\b", "timestamp_ntz", statement)


class SchemaStatus(Document):
    """The result of :func:`bootstrap` / :func:`check`."""

    version_before: int
    version_now: int
    code_version: int
    applied: list[int]

    @property
    def up_to_date(self) -> bool:
        """True when nothing had to be applied."""
        return not self.applied


def current_version(wh: Warehouse) -> int:
    """Return the warehouse's schema version (0 when it was never initialised).

    Only a missing migrations table means "never initialised"; any other failure (the
    warehouse unreachable, no permission) is raised as it is.

    Args:
        wh: An open warehouse.

    Returns:
        The highest applied migration.
    """
    try:
        rows = wh.query("select max(version) from {ops}.schema_migrations")
    except RelationMissing:
        return 0
    return int(rows[0][0] or 0)


def check(wh: Warehouse) -> SchemaStatus:
    """Check that the schema is current without changing it.

    Args:
        wh: An open warehouse.

    Returns:
        The status (``applied`` lists the migrations that are pending).

    Raises:
        SchemaError: The warehouse was migrated by newer code.
    """
    version = current_version(wh)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the warehouse schema is version {version}, newer than this sentinel "
            f"({SCHEMA_VERSION})",
            "Upgrade dk-sentinel; never run an older version against a newer warehouse.",
        )
    pending = [v for v in sorted(MIGRATIONS) if v > version]
    return SchemaStatus(
        version_before=version, version_now=version, code_version=SCHEMA_VERSION, applied=pending
    )


def require_current(wh: Warehouse) -> None:
    """Raise :class:`SchemaError` unless the schema is exactly the code's version.

    Args:
        wh: An open warehouse.
    """
    status = check(wh)
    if status.applied:
        raise SchemaError(
            f"the warehouse schema is at version {status.version_before}, "
            f"this sentinel needs {SCHEMA_VERSION}"
        )


def bootstrap(wh: Warehouse) -> SchemaStatus:
    """Create or migrate the schema; idempotent.

    Args:
        wh: An open warehouse.

    Returns:
        What was applied (empty when already up to date).

    Raises:
        SchemaError: The warehouse was migrated by newer code.
    """
    status = check(wh)
    wh.execute("create schema if not exists {ops}")
    wh.execute(
        _typed(
            wh,
            "create table if not exists {ops}.schema_migrations "
            "(version integer not null, applied_at timestamp not null)",
        )
    )
    # No transaction: DDL commits implicitly on Snowflake. Every statement is idempotent
    # ("if not exists") and the version is recorded last, so an interrupted migration is
    # completed by running `sentinel init` again.
    for version in status.applied:
        for statement in MIGRATIONS[version]:
            wh.execute(_typed(wh, statement))
        wh.execute(
            "insert into {ops}.schema_migrations values (?, ?)",
            [version, utcnow()],
        )
        log.info("applied schema migration %d", version)
    return status.model_copy(update={"version_now": SCHEMA_VERSION})
