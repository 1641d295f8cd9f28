"""Exports (scores, interventions) and the compliance report."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dk_sentinel.analysis.assessment import queue_counts
from dk_sentinel.errors import RelationMissing, UsageError
from dk_sentinel.interventions.cases import FLAGGED_PLAYERS, list_cases
from dk_sentinel.interventions.outbox import mark_handed_off, pending
from dk_sentinel.interventions.records import events, list_interventions
from dk_sentinel.models import Document, Intervention, json_default, rfc3339, utcnow
from dk_sentinel.vocabulary import CATEGORIES
from dk_sentinel.warehouse import Warehouse

ExportKind = Literal["scores", "interventions"]


class ExportResult(Document):
    """What an export wrote."""

    kind: str
    rows: int
    path: str
    format: str
    records: list[dict[str, Any]] | None = Field(
        default=None, description="The rows, when they go to stdout (out '-')", exclude=True
    )


#: Every kept run's scores: what a lead-time curve or a backtest is recomputed from.
_SCORE_HISTORY = """select r.run_id, coalesce(runs.kind, 'live') as run_kind, r.as_of,
        r.player_id, r.composite_risk_score, r.risk_category
    from {analytics}.rg_risk_scores r
    inner join {ops}.scoring_runs runs on runs.run_id = r.run_id
    where runs.status = 'success'
      and (cast(? as varchar) is null or r.risk_category = ?)
    order by r.as_of, r.run_id, r.player_id"""


def _rows(
    wh: Warehouse, kind: ExportKind, category: str | None, history: bool = False
) -> list[dict[str, Any]]:
    if kind == "scores" and history:
        try:
            return wh.query_dicts(_SCORE_HISTORY, [category, category])
        except RelationMissing:
            return []
    if kind == "scores":
        try:
            # no_marketing: the player is on a case's list (SR 3.4.3, N.J.A.C. 13:69O):
            # the marketing systems this file feeds must leave them out
            return wh.query_dicts(
                "select s.*, flagged.player_id is not null as no_marketing "
                "from {analytics}.rg_latest_risk_scores s "
                f"left join {FLAGGED_PLAYERS} flagged on flagged.player_id = s.player_id "
                "where (cast(? as varchar) is null or s.risk_category = ?) "
                "order by s.composite_risk_score desc, s.player_id",
                [category, category],
            )
        except RelationMissing:  # initialised but never scored: nothing to export yet
            return []

    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in events(wh):
        by_id.setdefault(event.intervention_id, []).append(event.model_dump(mode="json"))
    return [
        {
            **i.model_dump(mode="json", exclude={"events"}),
            "events": json.dumps(by_id.get(i.intervention_id, [])),
        }
        for i in list_interventions(wh)
    ]


def export(
    wh: Warehouse,
    kind: ExportKind,
    out: str,
    *,
    category: str | None = None,
    pending_delivery: bool = False,
    history: bool = False,
) -> ExportResult:
    """Write the latest scores (or all interventions with their audit events) to a file.

    The format follows the extension (.csv, .parquet, .json); for ``-`` nothing is written
    and the rows are returned in ``records`` for the caller to print. Files are written
    atomically (a temporary file renamed into place).

    Args:
        wh: An open warehouse.
        kind: ``scores`` or ``interventions``.
        out: The output path, or ``-``.
        category: Scores only: just this category.
        pending_delivery: Interventions only: the outbox items not yet delivered (the
            webhook's messages, for a file-based integration). Once written they are marked
            delivered through channel ``file:<path>``, so the next export holds only new ones.
        history: Scores only: every kept successful run's rows (run id, its kind, as-of,
            player, composite, category) instead of the latest, so anyone can recompute a
            lead-time curve or a backtest.

    Returns:
        Rows written and where.

    Raises:
        UsageError: Unknown extension, or ``pending_delivery`` with scores, or ``history``
            with interventions.
    """
    if history and kind != "scores":
        raise UsageError("--history applies to scores only")
    if pending_delivery:
        if kind != "interventions":
            raise UsageError("--pending-delivery applies to interventions only")
        items = pending(wh)
        rows = [i.model_dump(mode="json") for i in items]  # payload nested (text in a CSV)
        result = _write_rows(rows, kind, out)
        mark_handed_off(wh, items, f"file:{result.path}", utcnow())
        return result
    return _write_rows(_rows(wh, kind, category, history), kind, out)


def _write_rows(rows: list[dict[str, Any]], kind: str, out: str) -> ExportResult:
    """Write rows atomically in the format of ``out``'s extension (``-``: return them).

    Raises:
        UsageError: Unknown extension.
    """
    if out == "-":
        return ExportResult(kind=kind, rows=len(rows), path="-", format="json", records=rows)
    path = Path(out)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("csv", "parquet", "json"):
        raise UsageError(
            f"cannot export to {path.name}", "Use a .csv, .parquet or .json file, or - for stdout."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "json":
        tmp.write_text(json.dumps(rows, default=json_default, indent=2), encoding="utf-8")
    elif fmt == "csv":  # one text per cell: timestamps RFC 3339, nested objects as JSON
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["player_id"])
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = [{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
                for row in rows]  # fmt: skip
        table = (
            pa.Table.from_pylist(flat)
            if rows
            else pa.table({"player_id": pa.array([], pa.string())})
        )
        pq.write_table(table, tmp)
    tmp.replace(path)
    return ExportResult(kind=kind, rows=len(rows), path=str(path), format=fmt)


def _cell(value: Any) -> Any:
    """A CSV cell: a timestamp as RFC 3339 UTC at whole seconds, an object as JSON text."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=json_default)
    return value


class CategoryCount(Document):
    """Players per category, now and at the previous run."""

    risk_category: str
    players: int
    previous_run_players: int | None


class JurisdictionSummary(Document):
    """The regulator's view of one jurisdiction (the state of the player id)."""

    jurisdiction: str
    pack: str
    triggers_fired: dict[str, int] = Field(description="In the latest run, by trigger code")
    cases_opened: int
    cases_open: int
    cases_overdue: int
    contact_attempts: int
    suspensions: int
    first_action_hours_median: float | None = Field(
        description="From a case's opening to its first contact attempt (cases with one)"
    )
    first_action_hours_p90: float | None
    flagged_players: int = Field(description="Players on a case's list now")
    flagged_payloads_without_no_marketing: int = Field(
        description="Platform messages about flagged players lacking the flag (must be 0)"
    )


class Report(Document):
    """The compliance report."""

    generated_at: datetime
    run_id: str | None
    previous_run_id: str | None
    by_category: list[CategoryCount]
    by_state: dict[str, dict[str, int]]
    interventions_7d: dict[str, dict[str, int]]
    interventions_30d: dict[str, dict[str, int]]
    queue_sla_breaches: int
    queue_open: int
    jurisdictions: list[JurisdictionSummary] = Field(default_factory=list)


def report(wh: Warehouse, *, now: datetime | None = None) -> Report:
    """Players by category and state, change since the previous run, interventions, SLA breaches.

    Args:
        wh: An open warehouse.
        now: Reference time.

    Returns:
        The report.
    """
    now = now or utcnow()
    try:  # the runs analysts saw: the staging model's one rule, the order of rg_latest_run
        runs = [r[0] for r in wh.query(
            "select run_id from {analytics}.stg_ops__scoring_runs where is_published "
            "order by finished_at desc, run_id desc limit 2"
        )]  # fmt: skip
    except RelationMissing:  # never scored
        runs = []
    current, previous = [*runs, None, None][:2]
    counts: dict[str | None, dict[str, int]] = {}
    by_state: dict[str, dict[str, int]] = {}
    if current:
        for run_id in (current, previous):
            if run_id is None:
                continue
            rows = wh.query(
                "select risk_category, state, count(*) from {analytics}.rg_risk_scores "
                "where run_id = ? group by 1, 2",
                [run_id],
            )
            for category, state, n in rows:
                counts.setdefault(run_id, {}).setdefault(category, 0)
                counts[run_id][category] += int(n)
                if run_id == current:
                    by_state.setdefault(state, {})[category] = int(n)
    by_category = [
        CategoryCount(
            risk_category=c,
            players=counts.get(current, {}).get(c, 0),
            previous_run_players=counts.get(previous, {}).get(c, 0) if previous else None,
        )
        for c in CATEGORIES
    ]

    def tally(days: int) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for item in list_interventions(wh, since=now - timedelta(days=days), now=now):
            row = table.setdefault(item.intervention_type, {})
            row[item.status] = row.get(item.status, 0) + 1
        return table

    queue_open, queue_overdue = queue_counts(wh, now=now)
    return Report(
        generated_at=now,
        run_id=current,
        previous_run_id=previous,
        by_category=by_category,
        by_state=dict(sorted(by_state.items())),
        interventions_7d=tally(7),
        interventions_30d=tally(30),
        queue_sla_breaches=queue_overdue,
        queue_open=queue_open,
        jurisdictions=jurisdiction_view(wh, current, now),
    )


def median_and_p90(sorted_values: list[float]) -> tuple[float | None, float | None]:
    """The median and the 90th percentile (nearest rank) of sorted values, to 2 places."""
    if not sorted_values:
        return None, None
    n = len(sorted_values)
    return round(sorted_values[n // 2], 2), round(sorted_values[min(n - 1, int(0.9 * n))], 2)


def jurisdiction_view(
    wh: Warehouse, run_id: str | None, now: datetime
) -> list[JurisdictionSummary]:
    """Per jurisdiction: triggers fired, cases, time to first action, contacts, suspensions."""
    fired: dict[str, dict[str, int]] = {}
    if run_id is not None:
        try:
            for state, code, n in wh.query(
                "select state, code, count(*) from {analytics}.rg_fired_triggers "
                "where run_id = ? group by 1, 2 order by 1, 2",
                [run_id],
            ):
                fired.setdefault(state, {})[code] = int(n)
        except RelationMissing:  # scored by an older release: no triggers yet
            pass
    cases = list_cases(wh, now)
    events = wh.query_dicts(
        "select e.case_id, e.event_type, e.occurred_at, e.player_id "
        "from {ops}.case_events e order by e.occurred_at"
    )
    first_contact: dict[str, datetime] = {}
    contacts: dict[str, int] = {}
    for e in events:
        if e["event_type"] == "contact":
            first_contact.setdefault(e["case_id"], e["occurred_at"])
            contacts[e["case_id"]] = contacts.get(e["case_id"], 0) + 1
    unflagged = {
        r[0]
        for r in wh.query(
            f"select o.player_id from {{ops}}.outbox o join {FLAGGED_PLAYERS} f "
            "on f.player_id = o.player_id where o.payload not like '%\"no_marketing\": true%'"
        )
    }
    out = []
    for state in sorted({c.jurisdiction for c in cases} | set(fired)):
        mine = [c for c in cases if c.jurisdiction == state]
        waits = sorted(
            (first_contact[c.case_id] - c.opened_at).total_seconds() / 3600
            for c in mine if c.case_id in first_contact
        )  # fmt: skip
        open_now = [c for c in mine if c.state != "closed"]
        out.append(
            JurisdictionSummary(
                jurisdiction=state,
                pack=next((c.pack for c in mine if c.pack), ""),
                triggers_fired=fired.get(state, {}),
                cases_opened=len(mine),
                cases_open=len(open_now),
                cases_overdue=sum(c.is_overdue for c in mine),
                contact_attempts=sum(contacts.get(c.case_id, 0) for c in mine),
                suspensions=sum(1 for c in mine if c.state == "suspended"),
                first_action_hours_median=median_and_p90(waits)[0],
                first_action_hours_p90=median_and_p90(waits)[1],
                flagged_players=len({c.player_id for c in open_now}),
                flagged_payloads_without_no_marketing=len(
                    unflagged & {c.player_id for c in open_now}
                ),
            )
        )
    return out


class InterventionEffect(Document):
    """One intervention: the risk when it was made, what followed, any later outcome."""

    intervention_id: str
    player_id: str
    intervention_type: str
    status: str
    created_at: datetime
    composite_at_time: float | None
    category_at_time: str | None
    composite_7d_later: float | None = Field(description="First published score 7-10 days on")
    composite_30d_later: float | None = Field(description="First published score 30-33 days on")
    bets_7d_before: int
    bets_7d_after: int | None = Field(
        description="Bets in the 7 days after; null while those 7 days have not ended"
    )
    staked_7d_before: float
    staked_7d_after: float | None = Field(
        description="Staked in the 7 days after; null while those 7 days have not ended"
    )
    later_outcome: str | None
    later_outcome_at: datetime | None


class InterventionTypeSummary(Document):
    """The interventions of one type, aggregated."""

    intervention_type: str
    count: int
    with_7d_score: int
    mean_change_7d: float | None
    with_30d_score: int
    mean_change_30d: float | None
    mean_bets_7d_before: float
    mean_bets_7d_after: float | None = Field(
        description="Over the interventions whose 7 days after have ended (null: none yet)"
    )
    mean_staked_7d_before: float
    mean_staked_7d_after: float | None
    with_7d_after: int = Field(description="Interventions whose 7 days after have ended")
    later_outcomes: int


class TimeoutBreach(Document):
    """Bets placed while the player's timeout was in force: the platform did not enforce it."""

    intervention_id: str
    player_id: str
    timeout_from: datetime
    timeout_until: datetime
    bets: int
    staked: float
    first_bet_at: datetime
    last_bet_at: datetime


class InterventionReport(Document):
    """``sentinel report --interventions``: did the interventions help?"""

    generated_at: datetime
    note: str
    by_type: list[InterventionTypeSummary]
    timeouts_not_honoured: list[TimeoutBreach]
    interventions: list[InterventionEffect]


#: Never say more than the data can: nothing here has a control group.
OBSERVATIONAL_NOTE = (
    "Observational, not causal: these are the players' scores and betting before and after each "
    "intervention, with no comparison group. Risk also falls by itself after a peak (regression "
    "to the mean), so a drop here does not show that the intervention caused it."
)
_FAR_FUTURE = "cast('9999-12-31 00:00:00' as timestamp)"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _what_followed(
    wh: Warehouse, items: list[Intervention], event_types: list[str]
) -> dict[str, dict[str, Any]]:
    """What followed each intervention, in four queries however many interventions there are.

    Per intervention: bets and stakes the week before and after, the published composite 7 and
    30 days later (the first score within 3 days of each) and the first harmful outcome, each
    one set-based query over a staged table of the interventions' windows.
    """
    import pyarrow as pa

    week, grace = timedelta(days=7), timedelta(days=3)
    created = [i.created_at for i in items]
    wh.stage("_report_windows", pa.table({
        "intervention_id": [i.intervention_id for i in items],
        "player_id": [i.player_id for i in items],
        "created_at": pa.array(created, pa.timestamp("us")),
        "week_before": pa.array([c - week for c in created], pa.timestamp("us")),
        "week_after": pa.array([c + week for c in created], pa.timestamp("us")),
        **{f"day_{days}{end}": pa.array([c + timedelta(days=days) + extra for c in created],
                                        pa.timestamp("us"))
           for days in (7, 30) for end, extra in (("", timedelta(0)), ("_end", grace))},
    }))  # fmt: skip
    out: dict[str, dict[str, Any]] = {i.intervention_id: {} for i in items}
    for row in wh.query_dicts(
        """select w.intervention_id,
            sum(case when b.placed_at < w.created_at then 1 else 0 end) as bets_before,
            sum(case when b.placed_at >= w.created_at then 1 else 0 end) as bets_after,
            sum(case when b.placed_at < w.created_at then b.stake else 0 end) as staked_before,
            sum(case when b.placed_at >= w.created_at then b.stake else 0 end) as staked_after
        from _report_windows w
        inner join {raw}.bets b on b.player_id = w.player_id
            and b.placed_at >= w.week_before and b.placed_at < w.week_after
        group by w.intervention_id"""
    ):
        out[row["intervention_id"]].update(row)
    marks = ", ".join("?" for _ in event_types)
    if event_types:
        for row in wh.query_dicts(
            f"""select w.intervention_id, o.event_type, o.event_at
            from _report_windows w
            inner join {{raw}}.outcomes o on o.player_id = w.player_id
                and o.event_at > w.created_at and o.event_type in ({marks})
            qualify row_number() over (
                partition by w.intervention_id order by o.event_at, o.event_type) = 1""",
            event_types,
        ):
            out[row["intervention_id"]].update(event_type=row["event_type"],
                                               event_at=row["event_at"])  # fmt: skip
    # the first published score from each target to three days after it
    for days in (7, 30):
        for row in wh.query_dicts(
            f"""select w.intervention_id, s.composite_risk_score
            from _report_windows w
            inner join {{analytics}}.rg_published_risk_scores s on s.player_id = w.player_id
                and s.as_of >= w.day_{days} and s.as_of < w.day_{days}_end
            qualify row_number() over (partition by w.intervention_id order by s.as_of) = 1"""
        ):
            out[row["intervention_id"]][f"composite_{days}d"] = row["composite_risk_score"]
    return out


def timeouts_not_honoured(wh: Warehouse) -> list[TimeoutBreach]:
    """Bets placed during a timeout (from its start to its expiry, cancellation or successor)."""
    rows = wh.query_dicts(
        f"""select i.intervention_id, i.player_id, i.created_at as timeout_from,
            least(coalesce(i.expires_at, {_FAR_FUTURE}), coalesce(i.cancelled_at, {_FAR_FUTURE}),
                  coalesce(successor.created_at, {_FAR_FUTURE})) as timeout_until,
            count(*) as bets, sum(b.stake) as staked,
            min(b.placed_at) as first_bet_at, max(b.placed_at) as last_bet_at
        from {{ops}}.interventions i
        left join {{ops}}.interventions successor
            on successor.intervention_id = i.superseded_by
        inner join {{raw}}.bets b on b.player_id = i.player_id and b.placed_at >= i.created_at
            and b.placed_at < least(coalesce(i.expires_at, {_FAR_FUTURE}),
                                    coalesce(i.cancelled_at, {_FAR_FUTURE}),
                                    coalesce(successor.created_at, {_FAR_FUTURE}))
        where i.intervention_type = 'timeout'
        group by i.intervention_id, i.player_id, i.created_at, i.expires_at, i.cancelled_at,
            successor.created_at
        order by i.created_at, i.intervention_id"""
    )
    return [TimeoutBreach.model_validate({**r, "staked": float(r["staked"])}) for r in rows]


def intervention_report(
    wh: Warehouse, event_types: list[str], *, now: datetime | None = None
) -> InterventionReport:
    """Every intervention with what followed it, aggregated by type, and timeout breaches.

    Args:
        wh: An open warehouse.
        event_types: The outcome types that count as harmful (``[outcomes]``).
        now: Report time.

    Returns:
        The report (observational: it says so).
    """
    now = now or utcnow()
    items = sorted(list_interventions(wh, now=now), key=lambda i: i.created_at)
    what_followed = _what_followed(wh, items, event_types) if items else {}
    week = timedelta(days=7)
    effects = []
    for item in items:
        followed = what_followed.get(item.intervention_id, {})
        # the week after has not ended: not yet observed (0 bets would read as a success)
        observed = item.created_at + week <= now
        effects.append(
            InterventionEffect(
                intervention_id=item.intervention_id,
                player_id=item.player_id,
                intervention_type=item.intervention_type,
                status=item.status,
                created_at=item.created_at,
                composite_at_time=item.composite_risk_score,
                category_at_time=item.risk_category,
                composite_7d_later=_number(followed.get("composite_7d")),
                composite_30d_later=_number(followed.get("composite_30d")),
                bets_7d_before=int(followed.get("bets_before") or 0),
                bets_7d_after=int(followed.get("bets_after") or 0) if observed else None,
                staked_7d_before=round(float(followed.get("staked_before") or 0), 2),
                staked_7d_after=round(float(followed.get("staked_after") or 0), 2)
                if observed
                else None,
                later_outcome=followed.get("event_type"),
                later_outcome_at=followed.get("event_at"),
            )
        )

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    by_type = []
    for kind in sorted({e.intervention_type for e in effects}):
        group = [e for e in effects if e.intervention_type == kind]
        after = [e for e in group if e.bets_7d_after is not None]
        change_7d = [
            e.composite_7d_later - e.composite_at_time
            for e in group
            if e.composite_7d_later is not None and e.composite_at_time is not None
        ]
        change_30d = [
            e.composite_30d_later - e.composite_at_time
            for e in group
            if e.composite_30d_later is not None and e.composite_at_time is not None
        ]
        by_type.append(
            InterventionTypeSummary(
                intervention_type=kind,
                count=len(group),
                with_7d_score=len(change_7d),
                mean_change_7d=mean(change_7d),
                with_30d_score=len(change_30d),
                mean_change_30d=mean(change_30d),
                mean_bets_7d_before=mean([e.bets_7d_before for e in group]) or 0.0,
                mean_bets_7d_after=mean([e.bets_7d_after or 0 for e in after]),
                mean_staked_7d_before=mean([e.staked_7d_before for e in group]) or 0.0,
                mean_staked_7d_after=mean([e.staked_7d_after or 0.0 for e in after]),
                with_7d_after=len(after),
                later_outcomes=sum(1 for e in group if e.later_outcome),
            )
        )
    return InterventionReport(
        generated_at=now,
        note=OBSERVATIONAL_NOTE,
        by_type=by_type,
        timeouts_not_honoured=timeouts_not_honoured(wh),
        interventions=effects,
    )
