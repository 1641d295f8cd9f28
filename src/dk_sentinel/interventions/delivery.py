"""``sentinel deliver``: post pending outbox items to the platform webhook, signed.

Each item is posted as JSON with:

* ``Idempotency-Key``: the intervention id (``<id>:cancel`` for a cancellation), so the
  platform applies a message once however often it arrives;
* ``X-Sentinel-Timestamp`` and ``X-Sentinel-Signature: sha256=<hex>``, the HMAC-SHA256 of
  ``<timestamp>.<body>`` with the secret from ``$SENTINEL_WEBHOOK_SECRET`` (the platform
  recomputes it and rejects stale timestamps).

A 2xx answer marks the item delivered. Anything else is logged (``outbox_attempts``) and the
item is retried later with exponential backoff (``[delivery] backoff_base_seconds`` doubling up
to ``backoff_max_seconds``); nothing is ever dropped. When the webhook cannot be reached at all
(connection refused, timeout), the run stops at once and leaves the rest for the next run rather
than waiting on every item. Only one ``deliver`` runs at a time (an OS file lock), so an item
is never posted by two processes at once; a crash between a post and its mark re-posts that one
item with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from dk_sentinel.config import Settings, secret
from dk_sentinel.errors import ConfigError, PartialFailure
from dk_sentinel.interventions.outbox import OutboxItem, count_pending, pending, record_attempt
from dk_sentinel.models import Document, utcnow
from dk_sentinel.warehouse import Warehouse
from dk_sentinel.warehouse.jobs import Lease, exclusive_job

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger(__name__)


class DeliveryReport(Document):
    """What one ``sentinel deliver`` did."""

    webhook: str
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    stopped_early: bool = False
    still_pending: int = 0
    errors: list[str] = Field(default_factory=list)

    def failure(self) -> PartialFailure | None:
        """Exit 4 when an attempt failed (the items stay pending), else None."""
        if not self.failed:
            return None
        return PartialFailure(
            f"{self.failed} delivery attempt(s) failed; {self.still_pending} item(s) pending",
            "They are retried with backoff by the next `sentinel deliver`; nothing is lost.",
        )


def sign(body: bytes, timestamp: str, key: str) -> str:
    """The signature header value: ``sha256=`` + HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int, settings: Settings) -> timedelta:
    """How long an item waits after its ``attempts``-th failure (doubling, capped)."""
    d = settings.delivery
    seconds = d.backoff_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, d.backoff_max_seconds))


def delivery_lock(settings: Settings, wh: Warehouse) -> AbstractContextManager[Lease]:
    """Hold the delivery lease, or raise :class:`BusyError` naming the holder and its host."""
    return exclusive_job(settings, "deliver", "Wait for it; cron runs the next one.", wh=wh)


def _post(client: httpx2.Client, url: str, item: OutboxItem, key: str) -> tuple[int, str | None]:
    body = json.dumps(item.payload, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    response = client.post(
        url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": item.idempotency_key,
            "X-Sentinel-Event": str(item.payload.get("event")),
            "X-Sentinel-Timestamp": timestamp,
            "X-Sentinel-Signature": sign(body, timestamp, key),
        },
    )
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def deliver(
    wh: Warehouse,
    settings: Settings,
    *,
    now: datetime | None = None,
    client: Any = None,
) -> DeliveryReport:
    """Post every due outbox item to the configured webhook.

    Args:
        wh: An open warehouse.
        settings: Settings (``[delivery]``).
        now: The time due items are selected by (default now, UTC).
        client: An ``httpx2.Client`` (tests inject one); default a new one, closed after.

    Returns:
        Counts of what was attempted, delivered and left pending.

    Raises:
        ConfigError: No webhook URL, or no signing secret in the environment.
        BusyError: Another deliver holds the lock.
    """
    import httpx2

    url = settings.delivery.webhook_url
    if not url:
        raise ConfigError(
            "no platform webhook is configured ([delivery] webhook_url)",
            "Set it, or hand the items to a file with "
            "`sentinel export interventions --pending-delivery --out FILE`.",
        )
    key = secret("webhook_secret")
    if not key:
        raise ConfigError(
            "SENTINEL_WEBHOOK_SECRET is not set",
            "Export the secret the platform shares with you; payloads are always signed.",
        )
    with delivery_lock(settings, wh) as lease:
        own = client is None
        http = client or httpx2.Client(timeout=settings.delivery.timeout_seconds)
        report = DeliveryReport(webhook=url)
        try:
            for item in pending(wh, due_by=now or utcnow(), limit=settings.delivery.batch_size):
                if lease.lost.is_set():  # the heartbeat found it taken over: post nothing more
                    lease.fence(wh)
                started = time.perf_counter()
                unreachable = False
                try:
                    status, error = _post(http, url, item, key)
                except httpx2.TransportError as exc:  # refused, reset, timed out
                    status, error, unreachable = None, f"{type(exc).__name__}: {exc}"[:300], True
                elapsed = (time.perf_counter() - started) * 1000
                record_attempt(
                    wh, item, at=utcnow(), status_code=status, error=error, elapsed_ms=elapsed,
                    retry_after=backoff(item.attempts + 1, settings), lease=lease,
                )  # fmt: skip
                report.attempted += 1
                if error is None:
                    report.delivered += 1
                    continue
                report.failed += 1
                report.errors.append(f"{item.idempotency_key}: {error}")
                log.warning("delivery of %s failed: %s", item.idempotency_key, error)
                if unreachable:  # the webhook is down: leave the rest for the next run
                    report.stopped_early = True
                    break
        finally:
            if own:
                http.close()
    report.still_pending = count_pending(wh)
    log.info(
        "deliver: %d delivered, %d failed, %d still pending",
        report.delivered, report.failed, report.still_pending,
    )  # fmt: skip
    return report
