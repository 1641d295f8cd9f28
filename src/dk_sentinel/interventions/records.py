"""Interventions: create, list, cancel -- with a risk snapshot and an append-only audit trail.

Records are never deleted or rewritten except for three lifecycle columns (cancelled_at,
cancel_reason, superseded_by); every change is also an event in ``intervention_events``.
A timeout expires by time (``expires_at``); nothing has to run for that.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from dk_sentinel.errors import ConflictError, NotFoundError
from dk_sentinel.interventions.cases import is_flagged
from dk_sentinel.interventions.outbox import DELIVERY_STATE, enqueue
from dk_sentinel.models import (
    AnalystAction,
    IdempotencyKey,
    Intervention,
    InterventionEvent,
    PlayerId,
    RiskAssessment,
    TimeoutHours,
    utcnow,
    validated,
)
from dk_sentinel.vocabulary import InterventionType
from dk_sentinel.warehouse import Warehouse, page_clause
from dk_sentinel.warehouse.jobs import guarded

log = logging.getLogger(__name__)

_COLUMNS = (
    "intervention_id, player_id, intervention_type, duration_hours, reason, analyst_id, "
    "created_at, expires_at, idempotency_key, run_id, composite_risk_score, risk_category, "
    "customer_message, cancelled_at, cancel_reason, superseded_by"
)
#: The one definition of an intervention's status (and so of "active"), in SQL: every query
#: of interventions -- here and in the review queue -- reads this relation, with one ``?``
#: parameter for "now". A timeout ends by time; nothing has to run for that.
INTERVENTIONS_WITH_STATUS = f"""(select {_COLUMNS},
    case when cancelled_at is not null then 'cancelled'
         when superseded_by is not null then 'superseded'
         when expires_at is not null and expires_at <= ? then 'expired'
         else 'active' end as status
    from {{ops}}.interventions)"""


_DELIVERY_COLUMNS = (
    "d.delivery_status, coalesce(d.delivery_attempts, 0) as delivery_attempts, d.delivery_error"
)


T = TypeVar("T")


class InterventionRequest(AnalystAction):
    """A request to record an intervention, validated as the product brief defines it."""

    player_id: PlayerId
    intervention_type: InterventionType
    duration_hours: TimeoutHours | None = Field(default=None, validate_default=True)
    idempotency_key: IdempotencyKey | None = None
    supersede: bool = False

    @field_validator("duration_hours")
    @classmethod
    def _duration_rules(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("intervention_type")
        if kind == "timeout" and value is None:
            raise ValueError("duration_hours required for timeout interventions")
        if kind is not None and kind != "timeout" and value is not None:
            raise ValueError(f"duration_hours applies only to timeout interventions, not {kind}")
        return value


def parse_request(**fields: Any) -> InterventionRequest:
    """Validate an intervention request, turning pydantic errors into one UsageError.

    Args:
        **fields: The request fields.

    Returns:
        The validated request.

    Raises:
        UsageError: One line per invalid field.
    """
    return validated(InterventionRequest, fields)


def _to_model(row: dict[str, Any]) -> Intervention:
    return Intervention.model_validate(row)


def _event(
    wh: Warehouse, intervention_id: str, player_id: str, kind: str, at: datetime,
    analyst: str | None, detail: str | None,
) -> None:  # fmt: skip
    wh.execute(
        "insert into {ops}.intervention_events values (?, ?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, intervention_id, player_id, kind, at, analyst, detail],
    )


def get_intervention(
    wh: Warehouse, intervention_id: str, *, with_events: bool = False, now: datetime | None = None
) -> Intervention:
    """One intervention by id (its status as of ``now``, default the present).

    Raises:
        NotFoundError: No such intervention.
    """
    rows = wh.query_dicts(
        f"select i.*, {_DELIVERY_COLUMNS} from {INTERVENTIONS_WITH_STATUS} i "
        f"left join {DELIVERY_STATE} d on d.intervention_id = i.intervention_id "
        "where i.intervention_id = ?",
        [now or utcnow(), intervention_id],
    )
    if not rows:
        raise NotFoundError(
            f"intervention {intervention_id} not found",
            "List them with `sentinel interventions list`.",
        )
    item = _to_model(rows[0])
    if with_events:
        item.events = events(wh, intervention_id)
    return item


def events(
    wh: Warehouse, intervention_id: str | None = None, *, player_id: str | None = None
) -> list[InterventionEvent]:
    """Audit events, oldest first (of one intervention, of one player's, or all)."""
    rows = wh.query_dicts(
        "select * from {ops}.intervention_events where (cast(? as varchar) is null "
        "or intervention_id = ?) and (cast(? as varchar) is null or player_id = ?) "
        "order by occurred_at, event_id",
        [intervention_id, intervention_id, player_id, player_id],
    )
    return [InterventionEvent.model_validate(r) for r in rows]


def list_interventions(
    wh: Warehouse,
    *,
    player_id: str | None = None,
    active: bool | None = None,
    intervention_type: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    with_events: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Intervention]:
    """Interventions, newest first, filtered.

    Args:
        wh: An open warehouse.
        player_id: Only this player.
        active: True: only active ones; False: only ended ones; None: all.
        intervention_type: Only this type.
        since: Only those created at or after this time.
        now: Reference time for expiry.
        with_events: Attach each one's audit events (one more query in all).
        limit: At most this many (None: all).
        offset: Skip this many first (a page's start).

    Returns:
        Interventions.
    """
    now = now or utcnow()
    state = None if active is None else ("active" if active else "ended")
    rows = wh.query_dicts(
        f"""select i.*, {_DELIVERY_COLUMNS} from {INTERVENTIONS_WITH_STATUS} i
        left join {DELIVERY_STATE} d on d.intervention_id = i.intervention_id
        where (cast(? as varchar) is null or i.player_id = ?)
          and (cast(? as varchar) is null or i.intervention_type = ?)
          and (cast(? as timestamp) is null or i.created_at >= ?)
          and (cast(? as varchar) is null or (i.status = 'active') = (? = 'active'))
        order by i.created_at desc, i.intervention_id{page_clause(limit, offset)}""",
        [now, player_id, player_id, intervention_type, intervention_type, since, since, state,
         state],
    )  # fmt: skip
    items = [_to_model(r) for r in rows]
    if with_events:
        trail: dict[str, list[InterventionEvent]] = {i.intervention_id: [] for i in items}
        for event in events(wh, player_id=player_id):
            if event.intervention_id in trail:
                trail[event.intervention_id].append(event)
        for item in items:
            item.events = trail[item.intervention_id]
    return items


def _guarded(wh: Warehouse, now: datetime, work: Callable[[], T]) -> T:
    """``work`` with the interventions guard taken (schema v4 ``write_guards``).

    Writers take turns, so one record per idempotency key, one active timeout per player and
    cancelling only what is active hold under concurrency too.
    """
    return guarded(wh, "interventions", now, work)


def replayed(wh: Warehouse, request: InterventionRequest) -> Intervention | None:
    """The intervention an idempotency key already recorded, if any.

    Raises:
        ConflictError: The key was used for a different request.
    """
    if not request.idempotency_key:
        return None
    rows = wh.query(
        "select intervention_id from {ops}.interventions where idempotency_key = ?",
        [request.idempotency_key],
    )
    if not rows:
        return None
    first = get_intervention(wh, rows[0][0])
    asked = (request.player_id, request.intervention_type, request.duration_hours, request.reason)
    recorded = (first.player_id, first.intervention_type, first.duration_hours, first.reason)
    if asked != recorded:
        raise ConflictError(
            f"idempotency key {request.idempotency_key!r} was used for another request "
            f"({first.intervention_id})",
            "Use a new key for a new intervention.",
        )
    log.info("idempotency key %s already used: returning %s", request.idempotency_key,
             first.intervention_id)  # fmt: skip
    return first


def create_intervention(
    wh: Warehouse,
    request: InterventionRequest,
    assessment: RiskAssessment,
    *,
    customer_message: str | None = None,
    now: datetime | None = None,
) -> Intervention:
    """Record an intervention with a snapshot of the player's risk.

    The record, its audit event and its outbox item are written in one guarded transaction
    that re-checks the rules, so concurrent identical requests store exactly one record.

    Args:
        wh: An open warehouse.
        request: A validated request.
        assessment: The player's current assessment (the snapshot stored with the record).
        customer_message: A nudge's message to the customer.
        now: Creation time (default now, UTC).

    Returns:
        The created intervention -- or, for a repeated idempotency key, the first one.

    Raises:
        ConflictError: The idempotency key was used for another request, or an active
            timeout exists and ``supersede`` was not asked for.
    """
    now = now or utcnow()
    expires = now + timedelta(hours=request.duration_hours) if request.duration_hours else None

    def record() -> Intervention:
        first = replayed(wh, request)
        if first is not None:
            return first
        active_timeouts = [
            i
            for i in list_interventions(wh, player_id=request.player_id, active=True, now=now)
            if i.intervention_type == "timeout"
        ]
        if request.intervention_type == "timeout" and active_timeouts and not request.supersede:
            current = active_timeouts[0]
            raise ConflictError(
                f"player {request.player_id} already has an active timeout "
                f"{current.intervention_id} (until {current.expires_at:%Y-%m-%d %H:%M} UTC)",
                'Supersede it (--supersede on the CLI, "supersede": true in the API), '
                "or cancel it first.",
            )
        new_id = "INT-" + uuid.uuid4().hex[:12].upper()
        wh.execute(
            f"insert into {{ops}}.interventions ({_COLUMNS}) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null, null)",
            [
                new_id, request.player_id, request.intervention_type, request.duration_hours,
                request.reason, request.analyst_id, now, expires, request.idempotency_key,
                assessment.run_id, assessment.composite_risk_score, assessment.risk_category,
                customer_message,
            ],
        )  # fmt: skip
        _event(wh, new_id, request.player_id, "created", now, request.analyst_id, request.reason)
        flagged = is_flagged(wh, request.player_id)
        replaced = active_timeouts if request.intervention_type == "timeout" else []
        for old in replaced:
            wh.execute(
                "update {ops}.interventions set superseded_by = ? where intervention_id = ?",
                [new_id, old.intervention_id],
            )
            _event(wh, old.intervention_id, request.player_id, "superseded", now,
                   request.analyst_id, f"superseded by {new_id}")  # fmt: skip
            # the platform ends the old one (signed and idempotent like every item)
            ended = get_intervention(wh, old.intervention_id, now=now)
            enqueue(wh, ended, "superseded", now, no_marketing=flagged)
        created = get_intervention(wh, new_id, now=now)
        enqueue(wh, created, "created", now, no_marketing=flagged,
                supersedes=[old.intervention_id for old in replaced])  # fmt: skip
        log.info("recorded %s %s for %s", request.intervention_type, new_id, request.player_id)
        return created

    return _guarded(wh, now, record)


def cancel_intervention(
    wh: Warehouse,
    intervention_id: str,
    reason: str,
    analyst_id: str | None,
    *,
    now: datetime | None = None,
) -> Intervention:
    """Cancel an active intervention (an audit event; the record is kept).

    Raises:
        NotFoundError: No such intervention.
        ConflictError: It is not active (a state conflict: 409 in the API, exit 2 in the CLI).
        UsageError: The reason or analyst id breaks the rules.
    """
    action = validated(AnalystAction, {"reason": reason, "analyst_id": analyst_id})
    reason, analyst_id = action.reason, action.analyst_id
    now = now or utcnow()

    def record() -> None:
        item = get_intervention(wh, intervention_id, now=now)
        if item.status != "active":
            raise ConflictError(f"intervention {intervention_id} is {item.status}, not active")
        wh.execute(
            "update {ops}.interventions set cancelled_at = ?, cancel_reason = ? "
            "where intervention_id = ?",
            [now, reason, intervention_id],
        )
        _event(wh, intervention_id, item.player_id, "cancelled", now, analyst_id, reason)
        enqueue(wh, item, "cancelled", now, no_marketing=is_flagged(wh, item.player_id))

    _guarded(wh, now, record)
    log.info("cancelled %s", intervention_id)
    return get_intervention(wh, intervention_id, with_events=True, now=now)
