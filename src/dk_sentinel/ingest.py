"""``sentinel ingest``: load contract files into the raw tables -- strict, set-based, lossless.

How a load works (the same on both backends):

1. Every file is read by DuckDB's CSV / Parquet reader as text (the dialect is the contract's,
   never sniffed).
2. One SQL statement per file types each row and lists *every* contract rule it breaks, into a
   temporary table whose row order is the files' (so a row's position is its row number).
3. Rows that break nothing are staged (on Snowflake: bulk-loaded with ``write_pandas``), then
   merged in one transaction: a known id with the same content is "already present", a known
   id with different content is rejected as a conflict (a pending bet that has since settled is
   the one allowed update), new ids are inserted. Rejects are stored in ``ingest_rejects``.

Accepted + already present + rejected == rows read, for every file. Nothing is half-loaded:
a file that cannot be read at all (unknown format, missing columns) aborts the whole run
before anything is written.
"""

from __future__ import annotations

import glob
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dk_sentinel.errors import PartialFailure, UsageError
from dk_sentinel.models import PLAYER_ID_FORM, PLAYER_ID_PATTERN, Document
from dk_sentinel.vocabulary import (
    ACCOUNT_EVENT_TYPES,
    BET_STATUSES,
    LIMIT_PERIODS,
    MARKETS,
    OUTCOME_TYPES,
    PAYMENT_KINDS,
    PAYMENT_STATUSES,
    SETTLED_STATUSES,
    ContractKind,
)
from dk_sentinel.warehouse import Warehouse
from dk_sentinel.warehouse.schema import require_current

log = logging.getLogger(__name__)

Kind = ContractKind
STATUSES = BET_STATUSES
EVENT_TYPES = OUTCOME_TYPES


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Text -> value. Timestamps: ISO 8601; an explicit offset (+hh, +hhmm or +hh:mm) is applied by
# hand, because DuckDB's cast to TIMESTAMP silently drops it; 'Z' or no offset means UTC.
# `t` is already trimmed text; the common case (no offset) is a plain cast.
_OFFSET = r"([+-])(\d\d):?(\d\d)?$"
_MACROS = [
    rf"""create or replace temp macro _ts(t) as case
        when t is null then null
        when length(t) > 19 and regexp_matches(t, '{_OFFSET}') then
            try_cast(regexp_replace(t, '{_OFFSET}', '') as timestamp)
            - to_minutes(cast(
                (case when regexp_extract(t, '{_OFFSET}', 1) = '-' then -1 else 1 end)
                * (cast(regexp_extract(t, '{_OFFSET}', 2) as integer) * 60
                   + coalesce(try_cast(regexp_extract(t, '{_OFFSET}', 3) as integer), 0))
              as bigint))
        else try_cast(t as timestamp) end""",
    """create or replace temp macro _bool(t) as case lower(t)
        when 'true' then true when '1' then true when 'false' then false when '0' then false
        end""",
]


@dataclass(frozen=True)
class Column:
    """One contract column: how its text is parsed and which rules it must meet."""

    name: str
    kind: Literal["text", "player_id", "upper", "enum", "ts", "dec", "bool"]
    required: bool = False
    sql_type: str = "decimal(18, 4)"
    check: str = ""  # for dec: SQL over `v`, e.g. "v > 0"
    words: str = ""  # the reason when `check` fails
    values: tuple[str, ...] = ()  # for enum

    def parsed(self) -> str:
        """SQL for the parsed value, from the trimmed text ``_t_<name>``."""
        t = f"_t_{self.name}"
        return {
            "text": t,
            "player_id": t,
            "upper": f"upper({t})",
            "enum": f"lower({t})",
            "ts": f"_ts({t})",
            "dec": f"try_cast({t} as {self.sql_type})",
            "bool": f"_bool({t})",
        }[self.kind]

    def rules(self) -> list[str]:
        """SQL expressions, each a reason or null."""
        t, v, n = f"_t_{self.name}", f"_p_{self.name}", self.name
        shown = "'" + n + " ''' || " + t + " || '''"
        rules = [f"case when {t} is null then '{n} is missing' end"] if self.required else []
        if self.kind == "player_id":
            rules.append(
                f"case when not regexp_full_match({t}, '{PLAYER_ID_PATTERN}') then {shown} "
                f"does not match {PLAYER_ID_FORM}' end"
            )
        elif self.kind == "enum":
            rules.append(
                f"case when {v} not in ({_in(self.values)}) then {shown} is not one of "
                f"{'/'.join(self.values)}' end"
            )
        elif self.kind in ("ts", "bool", "dec"):
            what = {
                "ts": "is not an ISO 8601 timestamp",
                "bool": "is not true/false/1/0",
                "dec": "is not a number",
            }[self.kind]
            rules.append(f"case when {t} is not null and {v} is null then {shown} {what}' end")
            if self.check:
                check = self.check.replace("v", v)
                rules.append(f"case when not ({check}) then {shown} {self.words}' end")
        return rules


@dataclass(frozen=True)
class Contract:
    """One input file type of the data contract."""

    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    row_rules: tuple[str, ...] = ()  # rules across columns, over _p_<name> / _t_<name>

    @property
    def names(self) -> tuple[str, ...]:
        """All contract column names, in table order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """The columns a file must have."""
        return tuple(c.name for c in self.columns if c.required)

    def rules(self) -> list[str]:
        """Every rule, column rules first."""
        return [r for c in self.columns for r in c.rules()] + list(self.row_rules)


_SCORE = "is outside 0-100"
_SETTLED = _in(SETTLED_STATUSES)
_SUBSCORES = (
    "sensitivity_to_loss",
    "sensitivity_to_reward",
    "risk_tolerance",
    "decision_consistency",
)
CONTRACTS: dict[str, Contract] = {
    "bets": Contract(
        table="bets",
        key=("bet_id",),
        columns=(
            Column("bet_id", "text", required=True),
            Column("player_id", "player_id", required=True),
            Column("placed_at", "ts", required=True),
            Column("settled_at", "ts"),
            Column("sport", "upper", required=True),
            Column("market", "enum", values=MARKETS),
            Column("is_live", "bool"),
            Column(
                "odds_decimal",
                "dec",
                True,
                "decimal(12, 4)",
                "v >= 1.01",
                "is below the minimum 1.01",
            ),
            Column("stake", "dec", True, check="v > 0", words="must be greater than 0"),
            Column("payout", "dec", check="v >= 0", words="must not be negative"),
            Column("status", "enum", required=True, values=STATUSES),
        ),
        row_rules=(
            f"case when _p_status in ({_SETTLED}) and _t_settled_at is null "
            "then 'settled_at is required when status is ' || _p_status end",
            f"case when _p_status in ({_SETTLED}) and _t_payout is null "
            "then 'payout is required when status is ' || _p_status end",
            "case when _p_status = 'pending' and _t_settled_at is not null "
            "then 'settled_at must be empty while status is pending' end",
            "case when _p_status = 'pending' and _t_payout is not null "
            "then 'payout must be empty while status is pending' end",
            "case when _p_settled_at < _p_placed_at then 'settled_at is before placed_at' end",
            "case when _p_status = 'lost' and _p_payout <> 0 "
            "then 'payout must be 0 for a lost bet' end",
            "case when _p_status in ('push', 'void') and _p_payout <> _p_stake "
            "then 'payout must equal stake for a push or void' end",
        ),
    ),
    "assessments": Contract(
        table="assessments",
        key=("assessment_id",),
        columns=(
            Column("assessment_id", "text", required=True),
            Column("player_id", "player_id", required=True),
            Column("assessed_at", "ts", required=True),
            Column("risk_score", "dec", True, "decimal(6, 2)", "v between 0 and 100", _SCORE),
            *(
                Column(n, "dec", False, "decimal(6, 2)", "v between 0 and 100", _SCORE)
                for n in _SUBSCORES
            ),
        ),
    ),
    "outcomes": Contract(
        table="outcomes",
        key=("player_id", "event_at", "event_type"),
        columns=(
            Column("player_id", "player_id", required=True),
            Column("event_at", "ts", required=True),
            Column("event_type", "enum", required=True, values=EVENT_TYPES),
        ),
    ),
    # v1.1. A payment's rows are its history: a later row with another status is a change
    # (a pending withdrawal then cancelled), kept beside the first; the same status again
    # with other values is a conflict.
    "payments": Contract(
        table="payments",
        key=("payment_id", "status"),
        columns=(
            Column("payment_id", "text", required=True),
            Column("player_id", "player_id", required=True),
            Column("requested_at", "ts", required=True),
            Column("completed_at", "ts"),
            Column("kind", "enum", required=True, values=PAYMENT_KINDS),
            Column("status", "enum", required=True, values=PAYMENT_STATUSES),
            Column("amount", "dec", True, check="v > 0", words="must be greater than 0"),
            Column("method_id", "text"),
        ),
        row_rules=(
            "case when _p_status in ('completed', 'cancelled', 'reversed') "
            "and _t_completed_at is null "
            "then 'completed_at is required when status is ' || _p_status end",
            "case when _p_status in ('pending', 'declined') and _t_completed_at is not null "
            "then 'completed_at must be empty while status is ' || _p_status end",
            "case when _p_completed_at < _p_requested_at "
            "then 'completed_at is before requested_at' end",
        ),
    ),
    "account_events": Contract(
        table="account_events",
        key=("event_id",),
        columns=(
            Column("event_id", "text", required=True),
            Column("player_id", "player_id", required=True),
            Column("occurred_at", "ts", required=True),
            Column("event_type", "enum", required=True, values=ACCOUNT_EVENT_TYPES),
            Column("value", "dec", check="v >= 0", words="must not be negative"),
            Column("period", "enum", values=LIMIT_PERIODS),
        ),
        row_rules=(
            "case when _t_period is not null and _p_event_type not like 'deposit_limit_%' "
            "then 'period applies only to deposit limit events' end",
        ),
    ),
}


class FileSummary(Document):
    """What happened to one input file."""

    file: str
    rows_read: int
    accepted: int
    already_present: int
    rejected: int
    top_reasons: dict[str, int]


class IngestResult(Document):
    """The result of one ``sentinel ingest`` run."""

    load_id: str
    dry_run: bool = Field(default=False, description="Validated and counted; nothing written")
    kind: str
    files: list[FileSummary]
    rows_read: int
    accepted: int
    already_present: int
    rejected: int
    rejects_file: str | None = None
    ops_schema: str = Field(default="ops", exclude=True)

    def failure(self) -> PartialFailure | None:
        """The problem to report after showing this result (exit 4), or None when clean."""
        if not self.rejected:
            return None
        return PartialFailure(
            f"{self.rejected:,} of {self.rows_read:,} rows rejected; the valid ones are "
            f"loaded ({self.accepted:,} new, {self.already_present:,} already present)",
            f"See the reasons with --rejects-out FILE.csv or in {self.ops_schema}.ingest_rejects "
            f"(load_id '{self.load_id}').",
        )


def expand_paths(paths: Sequence[str | Path], kind: str = "") -> list[Path]:
    """Expand directories and globs into a sorted list of CSV / Parquet files.

    Args:
        paths: Files, directories or glob patterns.
        kind: In a directory, only files whose name starts with this kind are taken.

    Returns:
        The files, without duplicates.

    Raises:
        UsageError: A path matches nothing, or a file is neither CSV nor Parquet.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            matches = sorted(
                p for p in path.iterdir() if _format(p) is not None and p.name.startswith(kind)
            )
            if not matches:
                raise UsageError(f"no {kind}*.csv or {kind}*.parquet files in directory {path}")
        elif any(ch in str(raw) for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(raw)))
            if not matches:
                raise UsageError(f"the pattern {raw} matches no file")
        elif path.is_file():
            matches = [path]
        else:
            raise UsageError(f"file {path} does not exist")
        for match in matches:
            if _format(match) is None:
                raise UsageError(
                    f"{match} is neither CSV nor Parquet",
                    "Contract files end in .csv, .csv.gz, .parquet or .pq.",
                )
            if match.resolve() not in {f.resolve() for f in found}:
                found.append(match)
    return found


def _format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return None


def _read_sql(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if _format(path) == "csv":
        # The dialect is the contract's (comma, double quotes): never sniffed from the data,
        # where a stray ' or ; would otherwise be taken for the quote or the delimiter.
        delim = "\\t" if path.name.lower().endswith(".tsv") else ","
        return (
            f"read_csv('{quoted}', all_varchar = true, header = true, delim = '{delim}', "
            "quote = '\"', escape = '\"', null_padding = true, strict_mode = false)"
        )
    return f"read_parquet('{quoted}')"


def _sources(local: Any, contract: Contract, files: list[Path]) -> list[str]:
    """One ``select`` per file giving the contract columns as text, in contract order.

    Headers are checked here, before anything is read or written: a missing required column
    is a :class:`UsageError` naming it.
    """
    import duckdb

    selects = []
    for path in files:
        try:
            header = [
                r[0] for r in local.execute(f"describe select * from {_read_sql(path)}").fetchall()
            ]
        except duckdb.Error as exc:
            raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
        by_lower = {h.lower().strip(): h for h in header}
        missing = [c for c in contract.required if c not in by_lower]
        if missing:
            raise UsageError(
                f"{path} is missing required column(s): {', '.join(missing)}",
                f"A {contract.table} file needs the columns {', '.join(contract.required)}.",
            )
        extra = sorted(set(by_lower) - set(contract.names))
        if extra:
            log.warning("%s: ignoring unknown column(s) %s", path, ", ".join(extra))
        columns = ", ".join(
            f'cast("{by_lower[c]}" as varchar) as {c}'
            if c in by_lower
            else f"cast(null as varchar) as {c}"
            for c in contract.names
        )
        selects.append(f"select {columns} from {_read_sql(path)}")
    return selects


def _validate(
    local: Any, contract: Contract, files: list[Path], sources: list[str], latest: datetime
) -> None:
    """Define ``_ingest_checked``: each row's file, row number, parsed values and reasons.

    Each value is trimmed and parsed once; the reasons are joined with ``concat_ws`` (which
    skips the rules that hold); the raw text is kept (as JSON) only for rejected rows.
    The files are parsed into one temporary table, one after another and in row order, so a
    row's position in it (``rowid``) gives its row number -- numbering rows with a window
    function would force the whole load onto one thread. Duplicates of a key inside the load
    are then found with a hash aggregate: the first occurrence is kept, the others get a
    reason.
    """
    import duckdb

    local.execute("set preserve_insertion_order = true")  # row numbers rely on it (the default)
    for macro in _MACROS:
        local.execute(macro)
    trimmed = ", ".join(f"nullif(trim({n}), '') as _t_{n}" for n in contract.names)
    parsed = ", ".join(f"{c.parsed()} as _p_{c.name}" for c in contract.columns)
    limit = f"timestamp '{latest:%Y-%m-%d %H:%M:%S}'"
    future = [
        f"case when _p_{c.name} > {limit} then '{c.name} ''' || _t_{c.name} || ''' is in the "
        f"future (after {latest:%Y-%m-%d %H:%M} UTC)' end"
        for c in contract.columns
        if c.kind == "ts"
    ]
    reasons = "concat_ws('; ', " + ", ".join(contract.rules() + future) + ")"
    raw_json = f"to_json(struct_pack({', '.join(contract.names)}))"
    values = ", ".join(f"_p_{n}" for n in contract.names)
    key = ", ".join(f"_p_{k}" for k in contract.key)
    join = " and ".join(f"d._p_{k} is not distinct from c._p_{k}" for k in contract.key)
    local.execute(
        "create or replace temp table _ingest_files "
        "(_fileno integer, _file varchar, _first bigint, _rows bigint)"
    )
    first = 0
    for number, (path, source) in enumerate(zip(files, sources, strict=True)):
        into = (
            "insert into _ingest_parsed"
            if number
            else "create or replace temp table _ingest_parsed as"
        )
        try:
            local.execute(
                f"""{into}
                select {number} as _fileno, {values}, _reasons,
                    case when _reasons <> '' then {raw_json} end as _raw
                from (select *, {reasons} as _reasons
                      from (select *, {parsed} from (select *, {trimmed} from ({source}))))"""
            )
        except duckdb.Error as exc:
            raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
        total = int(local.execute("select count(*) from _ingest_parsed").fetchall()[0][0])
        rows = [number, str(path), first, total - first]
        local.execute("insert into _ingest_files values (?, ?, ?, ?)", rows)
        first = total
    local.execute(
        """create or replace temp view _ingest_checked as
        select f._file, p.rowid - f._first + 1 as _row, p.rowid as _seq, p.* exclude (_fileno)
        from _ingest_parsed p join _ingest_files f on f._fileno = p._fileno"""
    )
    # The keys seen more than once (usually none): a hash aggregate, then an update of the
    # few rows concerned.
    local.execute(
        f"""create or replace temp table _ingest_dups as
        select {key}, min(rowid) as _first_seq from _ingest_parsed
        where _reasons = '' group by {key} having count(*) > 1"""
    )
    if not local.execute("select count(*) from _ingest_dups").fetchall()[0][0]:
        return
    duplicate = f"'duplicate {'/'.join(contract.key)} in this load (first at ' || d._first || ')'"
    local.execute(
        f"""update _ingest_parsed c
        set _reasons = {duplicate},
            _raw = to_json(struct_pack({", ".join(f"{n} := c._p_{n}" for n in contract.names)}))
        from (
            select k.*, f._file || ' row ' || f._row as _first
            from _ingest_dups k join _ingest_checked f on f._seq = k._first_seq
        ) d
        where {join} and c.rowid > d._first_seq and c._reasons = ''"""
    )


def _typed_select(contract: Contract) -> str:
    """The accepted rows' values, typed and named as the raw table's columns."""
    parts = []
    for c in contract.columns:
        value = f"coalesce(_p_{c.name}, false)" if c.kind == "bool" else f"_p_{c.name}"
        parts.append(f"{value} as {c.name}")
    return ", ".join(parts)


def ingest(
    wh: Warehouse,
    kind: Kind,
    paths: Sequence[str | Path],
    *,
    rejects_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
    max_future_minutes: int = 60,
    dry_run: bool = False,
    fence: Callable[[Warehouse], None] | None = None,
) -> IngestResult:
    """Validate and load contract files of one kind.

    Args:
        wh: An open warehouse whose schema is current.
        kind: ``bets``, ``assessments``, ``outcomes``, ``payments`` or ``account_events``.
        paths: Files, directories or globs.
        rejects_out: Also write the rejected rows (with reasons) to this CSV file.
        progress: Called with a short status line at each step.
        max_future_minutes: A timestamp more than this after the load starts is rejected
            ([ingest] max_future_minutes): a bet placed in the future would move every
            window that reads "the latest bet".
        dry_run: Validate and count (accepted, already present, rejected and why) against the
            warehouse, and write nothing: no raw row, no reject, no load record.
        fence: Called first in the merge's transaction (the ingest lease's
            :meth:`~dk_sentinel.warehouse.jobs.Lease.fence`): a load whose lease another host
            took over merges nothing, so two loads never insert the same rows.

    Returns:
        Per-file and total counts; when rows were rejected (the valid ones are loaded),
        ``result.failure()`` is the problem to report after showing it.

    Raises:
        UsageError: A file cannot be read or lacks required columns (nothing is loaded).
    """
    if kind not in CONTRACTS:
        raise UsageError(f"unknown kind {kind!r}", f"Use one of {', '.join(CONTRACTS)}.")
    say = progress or (lambda _msg: None)
    contract = CONTRACTS[kind]
    files = expand_paths(paths, kind)
    require_current(wh)
    local = wh.local_engine()
    say(f"reading {len(files)} file(s)")
    sources = _sources(local, contract, files)
    say("validating")
    now = wh.clock()  # the warehouse's: every ingest host stamps its loads on one clock
    _validate(local, contract, files, sources, latest=now + timedelta(minutes=max_future_minutes))
    load_id = uuid.uuid4().hex[:12]
    local.execute(
        f"create or replace temp view stage_accepted_local as select _file, _row, "
        f"{_typed_select(contract)} from _ingest_checked where _reasons = ''"
    )
    say("staging the valid rows")
    wh.publish_local("stage_accepted", "select * from stage_accepted_local")
    say("checking against the warehouse" if dry_run else "merging")
    counts = _merge(wh, local, contract, load_id, now, dry_run=dry_run, fence=fence)
    rows_read = dict(local.execute("select _file, _rows from _ingest_files").fetchall())
    summaries = []
    for path in files:
        c = counts.get(str(path), {})
        summaries.append(
            FileSummary(
                file=str(path),
                rows_read=int(rows_read.get(str(path), 0)),
                accepted=c.get("accepted", 0),
                already_present=c.get("already_present", 0),
                rejected=c.get("rejected", 0),
                top_reasons=c.get("reasons", {}),
            )
        )
    with wh.transaction():
        for s in summaries if not dry_run else []:
            wh.execute(
                "insert into {ops}.ingest_loads values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    load_id,
                    kind,
                    s.file,
                    s.rows_read,
                    s.accepted,
                    s.already_present,
                    s.rejected,
                    now,
                ],
            )
    result = IngestResult(
        load_id="dry-run" if dry_run else load_id,
        dry_run=dry_run,
        kind=kind,
        files=summaries,
        rows_read=sum(s.rows_read for s in summaries),
        accepted=sum(s.accepted for s in summaries),
        already_present=sum(s.already_present for s in summaries),
        rejected=sum(s.rejected for s in summaries),
        ops_schema=wh.schemas.ops,
    )
    if rejects_out is not None and not dry_run:
        _write_rejects(wh, load_id, rejects_out)
        result.rejects_file = str(rejects_out)
    log.info(
        "ingest %s%s: %d read, %d accepted, %d already present, %d rejected (load %s)",
        kind, " (dry run: nothing written)" if dry_run else "", result.rows_read,
        result.accepted, result.already_present, result.rejected, result.load_id,
    )  # fmt: skip
    return result


def _merge(
    wh: Warehouse, local: Any, contract: Contract, load_id: str, now: datetime,
    *, dry_run: bool = False, fence: Callable[[Warehouse], None] | None = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Merge the staged rows into the raw table in one transaction; return counts per file.

    Only staged rows whose key is already stored are compared (``stage_matched``); new rows
    go in with an anti-join, so a first load never compares anything.
    """
    t = f"{{raw}}.{contract.table}"
    join = " and ".join(f"s.{k} = t.{k}" for k in contract.key)
    same = " and ".join(f"not (s.{c} is distinct from t.{c})" for c in contract.names)
    settles = ""
    if contract.table == "bets":
        # A pending bet re-exported once settled is an update, not a conflict.
        immutable = " and ".join(
            f"not (s.{c} is distinct from t.{c})"
            for c in (
                "player_id",
                "placed_at",
                "sport",
                "market",
                "is_live",
                "odds_decimal",
                "stake",
            )
        )
        settles = (
            f"when t.status = 'pending' and s.status <> 'pending' and {immutable} then 'settles'"
        )
    # Temp-table DDL stays outside the transaction (DDL commits implicitly on Snowflake).
    wh.execute(
        f"""create or replace temporary table stage_matched as
        select s._file, s._row, s.{contract.key[0]} as _key,
            case when {same} then 'present' {settles} else 'conflict' end as _outcome
        from stage_accepted s join {t} t on {join}"""
    )
    conflict_reason = (
        f"{'/'.join(contract.key)} already loaded with different content "
        "(conflict: the stored row is kept, not overwritten)"
    )
    wh.fetch_to_local(
        "_conflicts",
        "select _file, _row from stage_matched where _outcome = 'conflict'",
        [("_file", "varchar"), ("_row", "bigint")],
    )
    raw_json = f"to_json(struct_pack({', '.join(f'{n} := c._p_{n}' for n in contract.names)}))"
    local.execute(
        f"""create or replace temp table stage_rejects_local as
        select _file, _row, _raw, _reasons from _ingest_checked where _reasons <> ''
        union all
        select c._file, c._row, {raw_json}, ? from _ingest_checked c
        join _conflicts k on k._file = c._file and k._row = c._row""",
        [conflict_reason],
    )
    cols = ", ".join(contract.names)
    not_stored = " and ".join(f"t.{k} = s.{k}" for k in contract.key)
    if not dry_run:  # a dry run counts from the stage below and writes nothing
        wh.publish_local("stage_rejects", "select * from stage_rejects_local")
        with wh.transaction():
            if fence is not None:
                fence(wh)
            if settles:
                wh.execute(
                    f"delete from {t} where bet_id in "
                    "(select _key from stage_matched where _outcome = 'settles')"
                )
            wh.execute(
                f"""insert into {t} ({cols}, source_file, load_id, loaded_at)
                select {", ".join("s." + c for c in contract.names)}, s._file, ?, ?
                from stage_accepted s where not exists (select 1 from {t} t where {not_stored})""",
                [load_id, now],
            )
            wh.execute(
                """insert into {ops}.ingest_rejects
                select ?, ?, _file, _row, _raw, _reasons, ? from stage_rejects""",
                [load_id, contract.table, now],
            )
    counts: dict[str, dict[str, Any]] = {}

    def entry(file: str) -> dict[str, Any]:
        return counts.setdefault(
            file, {"accepted": 0, "already_present": 0, "rejected": 0, "reasons": Counter()}
        )

    for file, n in local.execute(
        "select _file, count(*) from _ingest_checked where _reasons = '' group by 1"
    ).fetchall():
        entry(file)["accepted"] += int(n)
    for file, outcome, n in wh.query(
        "select _file, _outcome, count(*) from stage_matched group by 1, 2"
    ):
        if outcome != "settles":  # settled updates count as accepted
            entry(file)["accepted"] -= int(n)
        if outcome == "present":
            entry(file)["already_present"] += int(n)
    rejected = (
        local.execute(
            "select _file, _reasons, count(*) from stage_rejects_local group by 1, 2"
        ).fetchall()
        if dry_run
        else wh.query(
            "select source_file, reasons, count(*) from {ops}.ingest_rejects "
            "where load_id = ? group by 1, 2",
            [load_id],
        )
    )
    for file, reasons, n in rejected:
        entry(file)["rejected"] += int(n)
        for reason in str(reasons).split("; "):
            entry(file)["reasons"][re.sub(r"'[^']*'", "'…'", reason)] += int(n)
    for c in counts.values():
        c["reasons"] = dict(c["reasons"].most_common(5))
    return counts


def _write_rejects(wh: Warehouse, load_id: str, out: Path) -> None:
    """Write this load's rejects to a CSV file (atomically: temp file then rename)."""
    import csv

    rows = wh.query(
        "select source_file, line_number, reasons, raw_record from {ops}.ingest_rejects "
        "where load_id = ? order by source_file, line_number",
        [load_id],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "reasons", "raw_record"])
        for file, row, reasons, raw in rows:
            writer.writerow(
                [file, row, reasons, raw if raw is None else json.dumps(json.loads(raw))]
            )
    tmp.replace(out)
