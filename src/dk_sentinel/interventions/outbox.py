"""The interventions outbox: what the betting platform must be told, written with the record.

Every new intervention and every cancellation adds one outbox item **in the same transaction**
that records it, so an intervention is never recorded without its message, nor the other way
round. ``sentinel deliver`` (:mod:`dk_sentinel.interventions.delivery`) posts pending items to
the platform's webhook; ``sentinel export interventions --pending-delivery`` hands them to a
file instead. An item stays ``pending`` until a delivery is acknowledged; it carries an
idempotency key (the intervention id, or ``<id>:cancel`` for a cancellation) so that a retry
after a crash is recognised by the platform as the same message.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from dk_sentinel.models import Document, Intervention, rfc3339
from dk_sentinel.warehouse import Warehouse, page_clause
from dk_sentinel.warehouse.jobs import Lease

OutboxAction = Literal["created", "cancelled", "superseded", "suspend"]

#: Per intervention, its delivery state: ``pending`` while any item waits, else ``delivered``.
#: Joined by every query that lists interventions.
DELIVERY_STATE = """(select intervention_id,
    case when sum(case when status = 'pending' then 1 else 0 end) > 0 then 'pending'
         else 'delivered' end as delivery_status,
    sum(attempts) as delivery_attempts,
    max(last_error) as delivery_error
    from {ops}.outbox group by intervention_id)"""


class OutboxItem(Document):
    """One message for the platform."""

    item_id: str
    intervention_id: str
    player_id: str
    action: OutboxAction
    idempotency_key: str
    payload: dict[str, Any]
    created_at: datetime
    status: Literal["pending", "delivered"]
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None = None
    channel: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None


def idempotency_key(intervention_id: str, action: OutboxAction) -> str:
    """The key the platform deduplicates on.

    The intervention id (``:cancel`` for a cancel, ``:superseded`` when a newer one replaced
    it); a case's id and ``:suspend`` for a suspension.
    """
    if action == "created":
        return intervention_id
    return f"{intervention_id}:{'cancel' if action == 'cancelled' else action}"


def payload(
    item: Intervention,
    action: OutboxAction,
    at: datetime,
    *,
    no_marketing: bool = False,
    supersedes: list[str] | None = None,
) -> dict[str, Any]:
    """What the platform receives: what to enforce, never the analyst's free-text reason.

    ``no_marketing``: the player is on a case's list; the platform must not market to them.
    ``supersedes``: the interventions a new one replaces (each also gets its own
    ``intervention.superseded`` item, which ends it on the platform like a cancellation).
    """
    ends = action in ("cancelled", "superseded")
    return {
        "event": f"intervention.{action}",
        "idempotency_key": idempotency_key(item.intervention_id, action),
        "intervention_id": item.intervention_id,
        "player_id": item.player_id,
        "intervention_type": item.intervention_type,
        "duration_hours": item.duration_hours,
        "starts_at": rfc3339(item.created_at),
        "expires_at": rfc3339(item.expires_at) if item.expires_at else None,
        "cancelled_at": rfc3339(at) if ends else None,
        "superseded_by": item.superseded_by if action == "superseded" else None,
        "supersedes": supersedes or [],
        "customer_message": item.customer_message,
        "analyst_id": item.analyst_id,
        "occurred_at": rfc3339(at),
        "no_marketing": no_marketing,
    }


def enqueue(
    wh: Warehouse,
    item: Intervention,
    action: OutboxAction,
    at: datetime,
    *,
    no_marketing: bool = False,
    supersedes: list[str] | None = None,
) -> str:
    """Add an outbox item; call inside the transaction that records the intervention change.

    Args:
        wh: An open warehouse (in a transaction).
        item: The intervention as recorded.
        action: ``created``, ``cancelled`` or ``superseded``.
        at: When it happened.
        no_marketing: The player is on a case's list (``cases.is_flagged``).
        supersedes: For ``created``: the interventions it replaces.

    Returns:
        The item id.
    """
    body = payload(item, action, at, no_marketing=no_marketing, supersedes=supersedes)
    return _insert(wh, item.intervention_id, item.player_id, action, body, at)


def _insert(
    wh: Warehouse, subject_id: str, player_id: str, action: OutboxAction,
    body: dict[str, Any], at: datetime,
) -> str:  # fmt: skip
    item_id = uuid.uuid4().hex
    wh.execute(
        "insert into {ops}.outbox (item_id, intervention_id, player_id, action, payload, "
        "created_at, status, attempts, next_attempt_at, delivered_at, channel, "
        "last_status_code, last_error) values (?, ?, ?, ?, ?, ?, 'pending', 0, ?, null, null, "
        "null, null)",
        [item_id, subject_id, player_id, action, json.dumps(body), at, at],
    )
    return item_id


def enqueue_suspension(
    wh: Warehouse, case_id: str, player_id: str, reason: str, at: datetime
) -> str:
    """Ask the platform to suspend a player's account (a case's failed contacts).

    The item's subject is the case (its id stands where an intervention's would).
    """
    body = {
        "event": "account.suspend",
        "idempotency_key": idempotency_key(case_id, "suspend"),
        "case_id": case_id,
        "player_id": player_id,
        "reason": reason,
        "occurred_at": rfc3339(at),
        "no_marketing": True,
    }
    return _insert(wh, case_id, player_id, "suspend", body, at)


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem.model_validate(
        {
            **row,
            "payload": json.loads(row["payload"]),
            "idempotency_key": idempotency_key(row["intervention_id"], row["action"]),
        }
    )


def pending(
    wh: Warehouse, *, due_by: datetime | None = None, limit: int = 10_000
) -> list[OutboxItem]:
    """Pending items, oldest first (only those due by ``due_by`` when given)."""
    rows = wh.query_dicts(
        "select * from {ops}.outbox where status = 'pending' "
        "and (cast(? as timestamp) is null or next_attempt_at <= ?) "
        f"order by created_at, item_id{page_clause(limit)}",
        [due_by, due_by],
    )
    return [_item(r) for r in rows]


def count_pending(wh: Warehouse) -> int:
    """How many items wait for delivery (due or not)."""
    return int(wh.query("select count(*) from {ops}.outbox where status = 'pending'")[0][0])


def record_attempt(
    wh: Warehouse,
    item: OutboxItem,
    *,
    at: datetime,
    status_code: int | None,
    error: str | None,
    elapsed_ms: float,
    retry_after: timedelta,
    channel: str = "webhook",
    lease: Lease | None = None,
) -> None:
    """Log one delivery attempt; a success marks the item delivered, a failure reschedules it.

    One short transaction per attempt: a crash right after a post loses at most that one
    mark, and the retry carries the same idempotency key. With the deliverer's ``lease``, the
    transaction first proves it still holds it (a deliverer whose lease was taken over
    records nothing more and stops: :class:`~dk_sentinel.errors.LeaseLost`).
    """
    attempt = item.attempts + 1
    delivered = error is None
    with wh.transaction():
        if lease is not None:
            lease.fence(wh)
        wh.execute(
            "insert into {ops}.outbox_attempts values (?, ?, ?, ?, ?, ?)",
            [item.item_id, attempt, at, status_code, error, elapsed_ms],
        )
        wh.execute(
            "update {ops}.outbox set attempts = ?, last_status_code = ?, last_error = ?, "
            "status = ?, delivered_at = ?, channel = ?, next_attempt_at = ? where item_id = ?",
            [
                attempt, status_code, error, "delivered" if delivered else "pending",
                at if delivered else None, channel if delivered else None,
                at if delivered else at + retry_after, item.item_id,
            ],
        )  # fmt: skip


def mark_handed_off(wh: Warehouse, items: list[OutboxItem], channel: str, at: datetime) -> None:
    """Mark items delivered through a file integration (``export --pending-delivery``)."""
    with wh.transaction():
        for item in items:
            record_attempt(
                wh, item, at=at, status_code=None, error=None, elapsed_ms=0.0,
                retry_after=timedelta(0), channel=channel,
            )  # fmt: skip


def attempts(wh: Warehouse, item_id: str) -> list[dict[str, Any]]:
    """The delivery log of one item, oldest first."""
    return wh.query_dicts(
        "select * from {ops}.outbox_attempts where item_id = ? order by attempt", [item_id]
    )
