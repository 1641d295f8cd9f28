"""API keys and console sessions: created, rotated, listed, revoked, checked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dk_sentinel.apikeys import (
    ApiKey,
    NewApiKey,
    authenticate,
    create_key,
    end_session,
    list_keys,
    revoke_key,
    rotate_key,
    start_session,
)
from dk_sentinel.doctor import parse_age
from dk_sentinel.errors import UsageError
from dk_sentinel.vocabulary import Role

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import UseCases


class Keys(UseCases):
    """``sentinel api-keys ...``, the API's authentication and the console's sign-in."""

    def create(self, analyst_id: str, role: Role, *, expires_in: str | None = None) -> NewApiKey:
        """``sentinel api-keys create``: a new key, shown once (``expires_in``: 90d, 12h ...).

        Raises:
            UsageError: A bad analyst id or duration.
        """
        now = self.clock()
        with self.connect() as wh:
            return create_key(wh, analyst_id, role, now=now,
                              expires_at=_expiry(expires_in, now))  # fmt: skip

    def rotate(self, key_id: str, *, grace: str = "1h", expires_in: str | None = None) -> NewApiKey:
        """``sentinel api-keys rotate``: a new key for the same analyst and role, shown once.

        The old one works for ``grace`` more, then stops.

        Raises:
            NotFoundError: No such key.
            ConflictError: It is revoked.
            UsageError: A bad duration.
        """
        now = self.clock()
        period = _expiry(grace, now)
        with self.connect() as wh:
            return rotate_key(wh, key_id, grace=(period or now) - now, now=now,
                              expires_at=_expiry(expires_in, now))  # fmt: skip

    def all(self) -> list[ApiKey]:
        """``sentinel api-keys list``: every key, never the key itself."""
        with self.connect() as wh:
            return list_keys(wh)

    def revoke(self, key_id: str) -> ApiKey:
        """``sentinel api-keys revoke``: the key stops authenticating."""
        with self.connect() as wh:
            return revoke_key(wh, key_id, now=self.clock())

    def authenticate(self, presented: str) -> ApiKey | None:
        """The API's authentication: the active key (or console session) behind ``presented``."""
        idle = timedelta(minutes=self.settings.api.session_idle_minutes)
        with self.connect() as wh:
            return authenticate(wh, presented, idle=idle, now=self.clock())

    def start_session(self, key: ApiKey) -> str:
        """The console's sign-in: an opaque session token for a checked key (the cookie)."""
        api = self.settings.api
        with self.connect() as wh:
            return start_session(
                wh, key, idle=timedelta(minutes=api.session_idle_minutes),
                lifetime=timedelta(hours=api.session_hours), now=self.clock(),
            )  # fmt: skip

    def end_session(self, token: str) -> None:
        """The console's sign-out: the session's token stops authenticating."""
        with self.connect() as wh:
            end_session(wh, token, now=self.clock())


def _expiry(duration: str | None, now: datetime) -> datetime | None:
    """``now`` plus a duration like 30m, 12h or 90d (None: no expiry).

    Raises:
        UsageError: Another shape.
    """
    if duration is None:
        return None
    try:
        return now + parse_age(duration)
    except ValueError as exc:
        raise UsageError(str(exc), "e.g. --expires-in 90d") from None
