"""Cases with a regulatory clock: one per player flagged by a trigger or by HIGH+ risk.

After every successful live scoring run :func:`open_or_update` opens a case for each player
with a fired jurisdiction trigger (``analytics.rg_fired_triggers``) or a HIGH/CRITICAL score,
or adds the new signals to the player's case that is still open. A case is due by the
earliest deadline of its triggers (for risk alone, the queue's SLA). Analysts log contact
attempts; in a pack that says so (``suspend_after_failed_contacts``, NJ: 3) that many failed
attempts mark the case ``suspended`` and put a ``suspend`` item in the outbox for the platform.
A case closes only once the player has been clear (no trigger, not HIGH+) for the pack's
``clear_days`` (NJ: 180). Every change is a row of ``{ops}.case_events``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from dk_sentinel.errors import ConflictError, NotFoundError, UsageError
from dk_sentinel.interventions.outbox import enqueue_suspension
from dk_sentinel.models import AnalystAction, ContactNote, Document, validated
from dk_sentinel.scoring import LATEST_RUN
from dk_sentinel.vocabulary import HIGH_PLUS, OPEN_STATES, CaseState, ContactResult, sql_list
from dk_sentinel.warehouse import Warehouse, page_clause
from dk_sentinel.warehouse.jobs import guarded

log = logging.getLogger("dk_sentinel.cases")

#: Every case a player can still be on the list by, as a SQL list.
_OPEN_IN = sql_list(OPEN_STATES)
#: A case's triggers include a code (one ``?``: the code; triggers are stored comma-joined).
_HAS_TRIGGER = "position(',' || ? || ',' in ',' || triggers || ',') > 0"
#: The players with a case still open that carries a trigger code (one ``?``: the code).
PLAYERS_WITH_OPEN_TRIGGER = (
    f"(select player_id from {{ops}}.cases where state <> 'closed' and {_HAS_TRIGGER})"
)
#: The players on the list (a case not closed that locks them: every case but one opened by
#: information-only triggers): no marketing may reach them. One relation, joined by the scores
#: export and read by the platform payload.
FLAGGED_PLAYERS = (
    "(select distinct player_id from {ops}.cases where state <> 'closed' "
    "and coalesce(locks_player, true))"
)


def is_flagged(wh: Warehouse, player_id: str) -> bool:
    """Whether the player is on a case's list (so: no marketing)."""
    rows = wh.query(f"select count(*) from {FLAGGED_PLAYERS} f where f.player_id = ?", [player_id])
    return bool(rows[0][0])


class CaseEvent(Document):
    """One change of a case (the audit trail)."""

    event_id: str
    case_id: str
    event_type: str
    occurred_at: datetime
    analyst_id: str | None = None
    detail: str | dict[str, Any] | None = Field(
        default=None,
        description="What changed: text, or an object (a contact's result and note, a trigger's "
        "crossing, a correction)",
    )

    @field_validator("detail", mode="before")
    @classmethod
    def _nested(cls, value: Any) -> Any:
        # stored as text; an object stored as JSON is served as the object, not as a string
        if isinstance(value, str) and value.startswith("{"):
            try:
                parsed = json.loads(value)
            except ValueError:
                return value
            return parsed if isinstance(parsed, dict) else value
        return value

    @property
    def fields(self) -> dict[str, Any]:
        """The detail as an object ({} for text or nothing)."""
        return self.detail if isinstance(self.detail, dict) else {}


class Case(Document):
    """A player's case."""

    case_id: str
    player_id: str
    jurisdiction: str
    pack: str
    state: CaseState
    triggers: list[str]
    opened_at: datetime
    due_at: datetime
    last_signal_at: datetime
    composite_at_open: float | None = None
    category_at_open: str | None = None
    failed_contacts: int = 0
    closed_at: datetime | None = None
    close_reason: str | None = None
    triggered_at: datetime | None = Field(
        default=None,
        description="When the earliest trigger that opened the case crossed its threshold "
        "(the regulatory clock runs from here; null for a case opened by risk alone)",
    )
    assigned_to: str | None = Field(default=None, description="The analyst working the case")
    locks_player: bool = Field(
        default=True,
        description="The case keeps the player on the list (no marketing; closes only after "
        "the pack's clear_days); false when only information-only triggers opened it",
    )
    is_overdue: bool = False
    events: list[CaseEvent] = Field(default_factory=list)


class PackPolicy(Document):
    """What a pack says about contact and leaving the list."""

    suspend_after_failed_contacts: int | None = None
    min_hours_between_failed_contacts: float = 0.0
    clear_days: int = 180


def _event(wh: Warehouse, case_id: str, player_id: str, kind: str, at: datetime,
           analyst: str | None = None, detail: str | None = None) -> None:  # fmt: skip
    wh.execute(
        "insert into {ops}.case_events values (?, ?, ?, ?, ?, ?, ?)",
        [_event_id(), case_id, player_id, kind, at, analyst, detail],
    )


def _event_id() -> str:
    # ids sort in the order events were written (two events of one moment keep their order)
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}"


def open_or_update(
    wh: Warehouse, run_id: str, as_of: datetime, sla_hours: dict[str, float], now: datetime
) -> int:
    """Open or update the cases of the run's flagged players; returns how many changed.

    Args:
        wh: An open warehouse (the run has just been published).
        run_id: The successful live run.
        as_of: Its as-of.
        sla_hours: The review deadline by category, for players flagged by risk alone.
        now: The time recorded.
    """
    signals, firings, current = _trigger_signals(wh, run_id, now)
    # only the players a case is about (HIGH+, or a fired trigger), not the whole run
    scores = {
        r["player_id"]: r
        for r in wh.query_dicts(
            "select player_id, composite_risk_score, risk_category from "
            f"{{analytics}}.rg_risk_scores where run_id = ? and (risk_category in "
            f"{sql_list(HIGH_PLUS)} or player_id in (select player_id from "
            "{analytics}.rg_fired_triggers where run_id = ?))",
            [run_id, run_id],
        )
    }
    for player, score in scores.items():
        category = score["risk_category"]
        if category in HIGH_PLUS:
            s = signals.setdefault(player, _signal(player[-2:], ""))
            s["codes"].add(f"RISK-{category}")
            s["due"].append(now + timedelta(hours=float(sla_hours[category])))
            s["locks"] = True
            current.add(player)
    if not signals and not current:
        return 0
    # The signals go to the warehouse in one bulk load, before the guarded transaction (a
    # temporary table is DDL, which commits on Snowflake); each carries the ids of the case
    # and event it would open. Then a few set-based statements, not a statement per player:
    # a run flags thousands of players, and most of them every hour.
    import pyarrow as pa

    players = sorted(signals)
    scored = [scores.get(p, {}) for p in players]
    case_ids = {p: f"CASE-{uuid.uuid4().hex[:10].upper()}" for p in players}
    wh.stage(
        "stage_case_signals",
        pa.table({
            "player_id": players,
            "jurisdiction": [signals[p]["state"] for p in players],
            "pack": [signals[p]["pack"] for p in players],
            "triggers": [",".join(sorted(signals[p]["codes"])) for p in players],
            "due_at": pa.array([min(signals[p]["due"]) for p in players], pa.timestamp("us")),
            "composite_at_open": pa.array([s.get("composite_risk_score") for s in scored],
                                          pa.float64()),
            "category_at_open": pa.array([s.get("risk_category") for s in scored], pa.string()),
            "case_id": [case_ids[p] for p in players],
            "event_id": [_event_id() for _ in players],
            "triggered_at": pa.array([signals[p]["crossed"] for p in players],
                                     pa.timestamp("us")),
            "locks_player": pa.array([signals[p]["locks"] for p in players], pa.bool_()),
        }),
    )  # fmt: skip
    wh.stage(
        "stage_case_continuing",
        pa.table({"player_id": pa.array(sorted(current | set(signals)), pa.string())}),
    )
    not_open = (
        "not exists (select 1 from {ops}.cases c where c.player_id = s.player_id "
        f"and c.state in {_OPEN_IN})"
    )

    def write() -> int:
        # only the latest published run opens cases: a host that reaches this step after a
        # newer run was published (stalled, or its lease taken over) writes nothing stale
        latest = wh.query(f"select run_id from {LATEST_RUN}")
        if not latest or latest[0][0] != run_id:
            log.warning("cases: run %s is no longer the latest published run; the newer "
                        "run's cases stand, nothing written", run_id)  # fmt: skip
            return 0
        # read inside the guarded transaction: two writers never both open a case for one
        # player (Snowflake enforces no unique key on case_id or player_id)
        open_cases = {
            r["player_id"]: r
            for r in wh.query_dicts(
                "select case_id, player_id, triggers, coalesce(locks_player, true) as "
                f"locks_player from {{ops}}.cases where state in {_OPEN_IN}"
            )
        }
        opened = sum(1 for p in players if p not in open_cases)
        # the opening events first: the same condition still holds before the cases exist
        wh.execute(
            "insert into {ops}.case_events select event_id, case_id, player_id, 'opened', ?, "
            f"null, triggers from stage_case_signals s where {not_open}",
            [now],
        )
        wh.execute(
            "insert into {ops}.cases (case_id, player_id, jurisdiction, pack, state, triggers, "
            "opened_at, due_at, last_signal_at, composite_at_open, category_at_open, "
            "failed_contacts, closed_at, close_reason, triggered_at, locks_player) "
            "select case_id, player_id, jurisdiction, pack, 'open', triggers, ?, due_at, ?, "
            "composite_at_open, category_at_open, 0, null, null, triggered_at, locks_player "
            f"from stage_case_signals s where {not_open}",
            [now, as_of],
        )
        # a signal still in force (a trigger whose window still holds, HIGH+ now) keeps an
        # open case from clearing
        wh.execute(
            f"update {{ops}}.cases set last_signal_at = ? where state in {_OPEN_IN} "
            "and player_id in (select player_id from stage_case_continuing)",
            [as_of],
        )
        # each crossing recorded once: a rescore or a reloaded file opens nothing twice
        wh.insert_rows("{ops}.trigger_firings", [[*f, run_id, now] for f in firings])
        wh.insert_rows("{ops}.case_events", [
            [_event_id(), open_cases[p]["case_id"] if p in open_cases else case_ids[p], p,
             "trigger", now, None, detail]
            for p, detail in _firing_details(firings, signals, now)
        ])  # fmt: skip
        # new codes on an open case (hundreds a run at 100k players): set-based, a few
        # statements, not two a case (round trips on Snowflake, with the guard held)
        triggers, events = [], []
        for player, case in sorted(open_cases.items()):
            known = set(filter(None, case["triggers"].split(",")))
            new = sorted(signals[player]["codes"] - known) if player in signals else []
            if new:
                locks = bool(case.get("locks_player", True)) or signals[player]["locks"]
                triggers.append([case["case_id"], ",".join(sorted(known | set(new))), locks])
                events.append([_event_id(), case["case_id"], player, "signal", now, None,
                               ",".join(new)])  # fmt: skip
        for start in range(0, len(triggers), 500):
            chunk = triggers[start : start + 500]
            wh.execute(
                "update {ops}.cases c set triggers = v.triggers, locks_player = v.locks from "
                "(values "
                + ", ".join("(?, ?, ?)" for _ in chunk)
                + ") as v (case_id, triggers, locks) where c.case_id = v.case_id",
                [value for row in chunk for value in row],
            )
        wh.insert_rows("{ops}.case_events", events)
        return opened + len(events)

    return guarded(wh, "cases", now, write)


def _signal(state: str, pack: str) -> dict[str, Any]:
    return {"state": state, "pack": pack, "codes": set(), "due": [], "crossed": None,
            "locks": False}  # fmt: skip


#: One new trigger crossing: player, code, crossed_at, value (a row of ops.trigger_firings).
_Firing = tuple[str, str, datetime, float]


def _trigger_signals(
    wh: Warehouse, run_id: str, now: datetime
) -> tuple[dict[str, dict[str, Any]], list[_Firing], set[str]]:
    """The run's fired triggers, split into new crossings and signals still in force.

    A crossing is new unless the same (player, trigger) was recorded crossing within one
    window before it: a later crossing is a new episode, an earlier one found late is not.
    Only new crossings open a case or add a code (so closing an information-only case is not
    undone by the next run); a trigger whose window still holds keeps an open case from
    clearing. A new crossing's case is due by its deadline from when it crossed.

    Returns:
        Player -> the signal that may open or extend a case, the crossings to record, and the
        players with a signal still in force.
    """
    fired = wh.query_dicts(
        "select f.player_id, f.state, f.pack, f.code, f.deadline_hours, f.crossed_at, "
        "f.window_days, f.is_current, f.locks_case, f.value, f.evidence_count, "
        "f.population_rise_pct, (select max(k.crossed_at) from {ops}.trigger_firings k "
        "where k.player_id = f.player_id and k.code = f.code) as last_recorded_at "
        "from {analytics}.rg_fired_triggers f where f.run_id = ?",
        [run_id],
    )
    signals: dict[str, dict[str, Any]] = {}
    firings: list[_Firing] = []
    current: set[str] = set()
    for row in fired:
        player, crossed = row["player_id"], row["crossed_at"]
        last = row["last_recorded_at"]
        if row["is_current"]:
            current.add(player)
        if last is not None and crossed < last + timedelta(days=int(row["window_days"])):
            continue
        firings.append((player, row["code"], crossed, float(row["value"])))
        s = signals.setdefault(player, _signal(row["state"], row["pack"]))
        s["codes"].add(row["code"])
        s["due"].append(crossed + timedelta(hours=float(row["deadline_hours"])))
        s["crossed"] = crossed if s["crossed"] is None else min(s["crossed"], crossed)
        s["locks"] = s["locks"] or bool(row["locks_case"])
        s.setdefault("evidence", {})[row["code"]] = row
    return signals, firings, current


def _firing_details(
    firings: list[_Firing], signals: dict[str, dict[str, Any]], now: datetime
) -> list[tuple[str, str]]:
    """An audit line per new crossing.

    When it crossed, how late it was found, the evidence and, for a rule read against the
    book, the book's change over the same period.
    """
    out = []
    for player, code, crossed, value in firings:
        row = signals[player]["evidence"][code]
        detail = {
            "code": code,
            "crossed_at": f"{crossed:%Y-%m-%dT%H:%M:%S}Z",
            "found_hours_later": round((now - crossed).total_seconds() / 3600.0, 1),
            "value": round(value, 2),
            "evidence_count": row["evidence_count"],
        }
        if row["population_rise_pct"] is not None:
            detail["population_rise_pct"] = round(float(row["population_rise_pct"]), 1)
        out.append((player, json.dumps(detail)))
    return out


def _case(row: dict[str, Any], now: datetime, events: list[CaseEvent] | None = None) -> Case:
    return Case.model_validate({
        **row,
        "triggers": [t for t in (row["triggers"] or "").split(",") if t],
        "is_overdue": row["state"] == "open" and row["due_at"] < now,  # as list_cases' filter
        "events": events or [],
    })  # fmt: skip


def list_cases(
    wh: Warehouse,
    now: datetime,
    *,
    state: CaseState | None = None,
    overdue: bool = False,
    jurisdiction: str | None = None,
    trigger: str | None = None,
    player_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Case]:
    """Cases, most urgent first (by due time), filtered in the warehouse.

    Args:
        wh: An open warehouse.
        now: The time "overdue" is measured against.
        state: Only cases in this state.
        overdue: Only open cases past their due time.
        jurisdiction: Only cases of this state (two letters).
        trigger: Only cases carrying this trigger code.
        player_id: Only this player's cases.
        limit: At most this many (None: all).
        offset: Skip this many first (a page's start).

    Returns:
        The cases (without their events).
    """
    rows = wh.query_dicts(
        "select * from {ops}.cases where (cast(? as varchar) is null or player_id = ?) "
        "and (cast(? as varchar) is null or state = ?) "
        "and (not ? or (state = 'open' and due_at < ?)) "
        "and (cast(? as varchar) is null or jurisdiction = ?) "
        f"and (cast(? as varchar) is null or {_HAS_TRIGGER}) "
        f"order by due_at, case_id{page_clause(limit, offset)}",
        [player_id, player_id, state, state, overdue, now, jurisdiction, jurisdiction,
         trigger, trigger],
    )  # fmt: skip
    return [_case(r, now) for r in rows]


def get_case(wh: Warehouse, case_id: str, now: datetime) -> Case:
    """One case with its audit events.

    Raises:
        NotFoundError: No such case.
    """
    rows = wh.query_dicts("select * from {ops}.cases where case_id = ?", [case_id])
    if not rows:
        raise NotFoundError(f"no case {case_id}", "List them with `sentinel cases list`.")
    events = [
        CaseEvent.model_validate(e)
        for e in wh.query_dicts(
            "select event_id, case_id, event_type, occurred_at, analyst_id, detail "
            "from {ops}.case_events where case_id = ? order by occurred_at, event_id",
            [case_id],
        )
    ]
    return _case(rows[0], now, events)


def _failed_contacts(case: Case) -> list[CaseEvent]:
    """The failed contact attempts that count toward suspension, oldest first.

    A failed attempt counts when the pack's spacing has passed since the last one that
    counted (recorded in the event), and no correction has withdrawn it.
    """
    corrected = {
        e.fields.get("event_id") for e in case.events if e.event_type == "contact_corrected"
    }
    counted = []
    for e in case.events:
        detail = e.fields if e.event_type == "contact" else {}
        if (detail.get("result") == "no_answer" and detail.get("counted", True)
                and e.event_id not in corrected):  # fmt: skip
            counted.append(e)
    return counted


def log_contact(
    wh: Warehouse,
    case_id: str,
    result: ContactResult,
    note: str,
    analyst_id: str | None,
    policy: PackPolicy,
    now: datetime,
    *,
    confirm_suspension: bool = False,
) -> Case:
    """Record a contact attempt; enough failed ones suspend the account (an outbox item).

    A failed attempt counts toward suspension only when the pack's
    ``min_hours_between_failed_contacts`` have passed since the last one that counted (NJ's
    phases are days apart, not seconds); it is recorded either way. The attempt that would
    suspend the account must be confirmed (``confirm_suspension``): nothing is written until
    it is.

    Raises:
        NotFoundError: No such case.
        ConflictError: The case is closed, or the attempt would suspend the account and is
            not confirmed.
        UsageError: The analyst id is missing or the note is too long or unprintable.
    """
    signed = validated(ContactNote, {"analyst_id": analyst_id, "note": note})
    analyst, note = str(signed.analyst_id), signed.note

    def write() -> None:  # read inside the guard: two attempts at once both count
        case = get_case(wh, case_id, now)
        if case.state == "closed":
            raise ConflictError(f"case {case_id} is closed")
        earlier = _failed_contacts(case)
        spacing = timedelta(hours=policy.min_hours_between_failed_contacts)
        counts = result == "no_answer" and (not earlier or now - earlier[-1].occurred_at >= spacing)
        failed = len(earlier) + (1 if counts else 0)
        limit = policy.suspend_after_failed_contacts
        suspend = counts and limit is not None and failed >= limit and case.state != "suspended"
        if suspend and not confirm_suspension:
            raise ConflictError(
                f"this attempt would be failed contact {failed} of {limit} and suspend the "
                f"account of {case.player_id}: confirm it",
                "Repeat with --yes (API: confirm_suspension true) once you are sure; nothing "
                "was recorded.",
            )
        state = "suspended" if suspend or case.state == "suspended" else "in_contact"
        wh.execute(
            "update {ops}.cases set state = ?, failed_contacts = ? where case_id = ?",
            [state, failed, case_id],
        )
        detail: dict[str, str | bool] = {"result": result, "note": note}
        if result == "no_answer":
            detail["counted"] = counts
        _event(wh, case_id, case.player_id, "contact", now, analyst, json.dumps(detail))
        if suspend:
            enqueue_suspension(wh, case_id, case.player_id, f"{failed} failed contact attempts",
                               now)  # fmt: skip
            _event(wh, case_id, case.player_id, "suspension_requested", now, analyst,
                   f"{failed} failed contact attempts")  # fmt: skip

    guarded(wh, "cases", now, write)
    return get_case(wh, case_id, now)


def correct_contact(
    wh: Warehouse, case_id: str, event_id: str, reason: str, analyst_id: str | None,
    now: datetime,
) -> Case:  # fmt: skip
    """Withdraw a contact attempt logged by mistake: an audited event with the reason.

    The attempt stays in the audit trail; it no longer counts toward suspension. A suspension
    already requested is not undone here (the platform may have acted on it).

    Raises:
        NotFoundError: No such case, or no such contact attempt on it.
        ConflictError: The attempt was already corrected.
        UsageError: The reason or the analyst id breaks the rules.
    """
    action = validated(AnalystAction, {"analyst_id": analyst_id, "reason": reason})

    def write() -> None:
        case = get_case(wh, case_id, now)
        contact = next((e for e in case.events if e.event_id == event_id
                        and e.event_type == "contact"), None)  # fmt: skip
        if contact is None:
            raise NotFoundError(
                f"case {case_id} has no contact attempt {event_id}",
                f"Its events are listed by `sentinel cases show {case_id}`.",
            )
        if any(e.event_type == "contact_corrected"
               and e.fields.get("event_id") == event_id
               for e in case.events):  # fmt: skip
            raise ConflictError(f"contact attempt {event_id} was already corrected")
        _event(wh, case_id, case.player_id, "contact_corrected", now, str(action.analyst_id),
               json.dumps({"event_id": event_id, "reason": action.reason}))  # fmt: skip
        remaining = _failed_contacts(get_case(wh, case_id, now))
        wh.execute(
            "update {ops}.cases set failed_contacts = ? where case_id = ?",
            [len(remaining), case_id],
        )

    guarded(wh, "cases", now, write)
    return get_case(wh, case_id, now)


def close_case(
    wh: Warehouse,
    case_id: str,
    reason: str,
    analyst_id: str | None,
    policy: PackPolicy,
    now: datetime,
) -> Case:
    """Close a case once the player has been clear for the pack's ``clear_days``.

    A case opened only by information-only triggers (``locks_player`` false) closes at once,
    with the reason.

    Raises:
        NotFoundError: No such case.
        ConflictError: Already closed, or not yet clear long enough (says until when).
        UsageError: The reason or the analyst id breaks the rules (as for interventions).
    """
    action = validated(AnalystAction, {"analyst_id": analyst_id, "reason": reason})
    analyst, reason = str(action.analyst_id), action.reason

    def write() -> None:  # read inside the guard: a run adding a signal meanwhile wins
        case = get_case(wh, case_id, now)
        if case.state == "closed":
            raise ConflictError(f"case {case_id} is already closed")
        clear_from = case.last_signal_at + timedelta(days=policy.clear_days)
        if case.locks_player and now < clear_from:
            raise ConflictError(
                f"case {case_id} cannot close before {clear_from:%Y-%m-%d %H:%M} UTC: the "
                f"player must be clear for {policy.clear_days} days "
                f"(last signal {case.last_signal_at:%Y-%m-%d})",
                "Keep working the case; it can close once no trigger or HIGH+ score has "
                f"appeared for {policy.clear_days} days.",
            )
        wh.execute(
            "update {ops}.cases set state = 'closed', closed_at = ?, close_reason = ? "
            "where case_id = ?",
            [now, reason, case_id],
        )
        _event(wh, case_id, case.player_id, "closed", now, analyst, reason)

    guarded(wh, "cases", now, write)
    return get_case(wh, case_id, now)


def _change(
    wh: Warehouse,
    case_id: str,
    now: datetime,
    kind: str,
    analyst: str,
    detail: str,
    allowed: tuple[str, ...],
    updates: str = "",
    values: list[Any] | None = None,
) -> Case:
    """One audited change of a case in an allowed state (inside the cases guard)."""

    def write() -> None:
        case = get_case(wh, case_id, now)
        if case.state not in allowed:
            raise ConflictError(
                f"case {case_id} is {case.state}: it cannot be {kind}",
                f"Only a case that is {' or '.join(allowed)} can be.",
            )
        if kind == "reopened" and any(
            c.case_id != case_id for c in list_cases(wh, now, player_id=case.player_id)
            if c.state in OPEN_STATES
        ):  # fmt: skip
            raise ConflictError(
                f"player {case.player_id} already has an open case",
                "Work that case; a player has one open case at a time.",
            )
        if updates:
            wh.execute(f"update {{ops}}.cases set {updates} where case_id = ?",
                       [*(values or []), case_id])  # fmt: skip
        _event(wh, case_id, case.player_id, kind, now, analyst, detail)

    guarded(wh, "cases", now, write)
    return get_case(wh, case_id, now)


def contest_case(
    wh: Warehouse, case_id: str, reason: str, analyst_id: str | None, now: datetime
) -> Case:
    """Mark a case contested (the player or the operator disputes the trigger), with why.

    Raises:
        NotFoundError: No such case.
        ConflictError: The case is closed or already contested.
        UsageError: The reason or the analyst id breaks the rules.
    """
    action = validated(AnalystAction, {"analyst_id": analyst_id, "reason": reason})
    allowed = tuple(s for s in OPEN_STATES if s != "contested")
    return _change(wh, case_id, now, "contested", str(action.analyst_id), action.reason,
                   allowed, "state = 'contested'")  # fmt: skip


def reopen_case(
    wh: Warehouse, case_id: str, reason: str, analyst_id: str | None, now: datetime
) -> Case:
    """Reopen a closed case (its clock and triggers as they were), with why.

    Raises:
        NotFoundError: No such case.
        ConflictError: The case is not closed, or the player has another open case.
        UsageError: The reason or the analyst id breaks the rules.
    """
    action = validated(AnalystAction, {"analyst_id": analyst_id, "reason": reason})
    reset = "state = 'open', closed_at = null, close_reason = null"
    return _change(wh, case_id, now, "reopened", str(action.analyst_id), action.reason,
                   ("closed",), reset)  # fmt: skip


def assign_case(
    wh: Warehouse, case_id: str, assignee: str, analyst_id: str | None, now: datetime
) -> Case:
    """Assign a case to an analyst (who works it from now on).

    Raises:
        NotFoundError: No such case.
        ConflictError: The case is closed.
        UsageError: An analyst id breaks the rules.
    """
    by = validated(ContactNote, {"analyst_id": analyst_id, "note": ""})
    to = validated(ContactNote, {"analyst_id": assignee, "note": ""})
    return _change(wh, case_id, now, "assigned", str(by.analyst_id), str(to.analyst_id),
                   OPEN_STATES, "assigned_to = ?", [str(to.analyst_id)])  # fmt: skip


def note_case(
    wh: Warehouse, case_id: str, note: str, analyst_id: str | None, now: datetime
) -> Case:
    """Add a note to a case's audit trail (no contact attempt), in any state.

    Raises:
        NotFoundError: No such case.
        UsageError: The note is empty, too long or unprintable, or the analyst id is missing.
    """
    signed = validated(ContactNote, {"analyst_id": analyst_id, "note": note})
    if not signed.note.strip():
        raise UsageError("a note needs some text", "Say what happened in --note.")
    states = (*OPEN_STATES, "closed")
    return _change(wh, case_id, now, "note", str(signed.analyst_id), signed.note, states)
