"""API keys for ``sentinel serve``: created once, stored hashed, compared in constant time.

A key reads ``sk_<key id>_<secret>``. Only the SHA-256 of the whole key is stored (in
``{ops}.api_keys``) with its analyst and role; the key itself is shown once, at creation.
Roles nest: ``viewer`` reads, ``analyst`` also records interventions, ``admin`` also starts
scoring runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from pydantic import Field

from dk_sentinel.errors import ConflictError, NotFoundError, UsageError
from dk_sentinel.models import ANALYST_ID_MAX, ANALYST_ID_MIN, Document, utcnow
from dk_sentinel.vocabulary import ROLES, Role
from dk_sentinel.warehouse import Warehouse


class ApiKey(Document):
    """A stored key (never the key itself)."""

    key_id: str
    analyst_id: str = Field(min_length=ANALYST_ID_MIN, max_length=ANALYST_ID_MAX)
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = Field(default=None, description="It stops working then")

    def allows(self, needed: Role) -> bool:
        """Whether this key's role includes ``needed``."""
        return ROLES.index(self.role) >= ROLES.index(needed)


class NewApiKey(ApiKey):
    """A key as created: ``api_key`` is shown this once and never stored."""

    api_key: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    wh: Warehouse,
    analyst_id: str,
    role: Role,
    *,
    now: datetime | None = None,
    expires_at: datetime | None = None,
) -> NewApiKey:
    """Create a key for an analyst with a role (that stops working at ``expires_at``, if set).

    Returns:
        The key record with the key itself (shown once).

    Raises:
        UsageError: The analyst id is blank, or shorter or longer than an analyst id may be.
    """
    if not ANALYST_ID_MIN <= len(analyst_id.strip()) <= ANALYST_ID_MAX:
        raise UsageError(
            f"analyst id '{analyst_id}' must be {ANALYST_ID_MIN}-{ANALYST_ID_MAX} characters",
            "Use the id the analyst records interventions with, e.g. --analyst ana01.",
        )
    key_id = secrets.token_hex(4)
    key = f"sk_{key_id}_{secrets.token_urlsafe(24)}"
    item = NewApiKey(
        key_id=key_id, analyst_id=analyst_id, role=role, created_at=now or utcnow(), api_key=key,
        expires_at=expires_at,
    )  # fmt: skip
    wh.execute(
        "insert into {ops}.api_keys (key_id, key_hash, analyst_id, role, created_at, "
        "revoked_at, expires_at) values (?, ?, ?, ?, ?, null, ?)",
        [key_id, _digest(key), analyst_id, role, item.created_at, expires_at],
    )
    return item


def rotate_key(
    wh: Warehouse, key_id: str, *, grace: timedelta, now: datetime, expires_at: datetime | None
) -> NewApiKey:
    """A new key for the same analyst and role; the old one keeps working for ``grace``.

    Raises:
        NotFoundError: No such key.
        ConflictError: The key is revoked.
    """
    old = next((k for k in list_keys(wh) if k.key_id == key_id), None)
    if old is None:
        raise NotFoundError(
            f"API key {key_id} not found", "List them with `sentinel api-keys list`."
        )
    if old.revoked_at is not None:
        raise ConflictError(
            f"API key {key_id} is revoked", "Create a new one with api-keys create."
        )
    new = create_key(wh, old.analyst_id, old.role, now=now, expires_at=expires_at)
    until = now + grace
    wh.execute(
        "update {ops}.api_keys set expires_at = ? where key_id = ? "
        "and (expires_at is null or expires_at > ?)",
        [until, key_id, until],
    )
    return new


def list_keys(wh: Warehouse) -> list[ApiKey]:
    """Every key, newest first (revoked ones included)."""
    rows = wh.query_dicts(
        "select key_id, analyst_id, role, created_at, revoked_at, expires_at "
        "from {ops}.api_keys order by created_at desc, key_id"
    )
    return [ApiKey.model_validate(r) for r in rows]


def revoke_key(wh: Warehouse, key_id: str, *, now: datetime | None = None) -> ApiKey:
    """Revoke a key (kept for the audit trail; it no longer authenticates).

    Raises:
        NotFoundError: No such key.
    """
    if not wh.query("select 1 from {ops}.api_keys where key_id = ?", [key_id]):
        raise NotFoundError(
            f"API key {key_id} not found", "List them with `sentinel api-keys list`."
        )
    wh.execute(
        "update {ops}.api_keys set revoked_at = coalesce(revoked_at, ?) where key_id = ?",
        [now or utcnow(), key_id],
    )
    return next(k for k in list_keys(wh) if k.key_id == key_id)


#: A console session's token (the cookie's value) starts with this; an API key with ``sk_``.
SESSION_PREFIX = "ss_"
#: A session's last use is written at most this often (a write on every page would contend).
_TOUCH_EVERY = timedelta(seconds=60)


def start_session(
    wh: Warehouse, key: ApiKey, *, idle: timedelta, lifetime: timedelta, now: datetime
) -> str:
    """Open a console session for a checked key; the token is returned once, stored hashed.

    The session ends after ``idle`` without use, ``lifetime`` after it began, on sign-out, or
    when its key is revoked -- whichever comes first.
    """
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    wh.execute(
        "insert into {ops}.console_sessions values (?, ?, ?, ?, ?, null)",
        [_digest(token), key.key_id, now, now, now + lifetime],
    )
    return token


def end_session(wh: Warehouse, token: str, *, now: datetime) -> None:
    """End a console session (sign-out); its token no longer authenticates."""
    wh.execute(
        "update {ops}.console_sessions set ended_at = coalesce(ended_at, ?) where session_hash = ?",
        [now, _digest(token)],
    )


def _session_key(wh: Warehouse, token: str, idle: timedelta, now: datetime) -> ApiKey | None:
    rows = wh.query_dicts(
        "select k.key_id, k.analyst_id, k.role, k.created_at, k.revoked_at, k.expires_at, "
        "s.last_seen_at from {ops}.console_sessions s join {ops}.api_keys k "
        "on k.key_id = s.key_id where s.session_hash = ? and s.ended_at is null "
        "and s.expires_at > ? and s.last_seen_at > ? and k.revoked_at is null "
        "and (k.expires_at is null or k.expires_at > ?)",
        [_digest(token), now, now - idle, now],
    )
    if not rows:
        return None
    if rows[0]["last_seen_at"] < now - _TOUCH_EVERY:
        wh.execute(
            "update {ops}.console_sessions set last_seen_at = ? where session_hash = ?",
            [now, _digest(token)],
        )
    return ApiKey.model_validate({k: v for k, v in rows[0].items() if k != "last_seen_at"})


def authenticate(
    wh: Warehouse,
    presented: str,
    *,
    idle: timedelta = timedelta(minutes=30),
    now: datetime | None = None,
) -> ApiKey | None:
    """The active key behind ``presented`` (an API key, or a console session's token), or None.

    Compared by hash (in constant time for keys).
    """
    if presented.startswith(SESSION_PREFIX):
        return _session_key(wh, presented, idle, now or utcnow())
    parts = presented.split("_")
    if len(parts) < 3 or parts[0] != "sk":
        return None
    rows = wh.query_dicts(
        "select key_id, key_hash, analyst_id, role, created_at, revoked_at, expires_at "
        "from {ops}.api_keys where key_id = ? and revoked_at is null "
        "and (expires_at is null or expires_at > ?)",
        [parts[1], now or utcnow()],
    )
    if not rows or not hmac.compare_digest(rows[0]["key_hash"], _digest(presented)):
        return None
    return ApiKey.model_validate({k: v for k, v in rows[0].items() if k != "key_hash"})
