"""What the API's routes and the console's pages depend on: the app, the key and role, paging."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from dk_sentinel.errors import BusyError, PermissionDenied, UsageError
from dk_sentinel.usecases import ApiKey, Sentinel, ServerRuntime
from dk_sentinel.vocabulary import Role
from dk_sentinel.web.problems import RateLimited, Unauthorised


class ApiState:
    """What an app holds for its requests: the server runtime and the rate limiter."""

    def __init__(self, runtime: ServerRuntime) -> None:
        """Build the limiter for ``[api] rate_limit`` (per key, moving window, in memory).

        Args:
            runtime: The server's runtime (its ``app`` answers the requests).
        """
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.runtime = runtime
        self.limit = runtime.settings.api.rate_limit
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.rate = parse(self.limit)
        # sha256 of the key -> (key, good until, when the warehouse last confirmed it)
        self._keys: dict[str, tuple[ApiKey, float, float]] = {}
        self._keys_guard = threading.Lock()

    def authenticate(self, presented: str) -> ApiKey | None:
        """The key behind ``presented``, from memory for ``[api] key_cache_seconds``."""
        ttl = self.runtime.settings.api.key_cache_seconds
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = time.monotonic()
        with self._keys_guard:
            cached = self._keys.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            key = self.runtime.app.keys.authenticate(presented)
        except BusyError:
            # a scoring run holds the warehouse: a key confirmed within the last two cache
            # periods is still taken (the lookups are answered from memory meanwhile), and the
            # warehouse is asked again only after a second, not by every request
            if cached is not None and cached[2] + 2 * ttl > now:
                with self._keys_guard:
                    self._keys[digest] = (cached[0], now + min(ttl, 1.0), cached[2])
                return cached[0]
            raise
        with self._keys_guard:
            if key is None:
                self._keys.pop(digest, None)  # refused: a busy spell must not revive it
            else:
                self._keys = {d: v for d, v in self._keys.items() if v[2] + 2 * ttl > now}
                if ttl > 0:
                    self._keys[digest] = (key, now + ttl, now)
        return key

    def forget(self, presented: str) -> None:
        """Drop a credential from the cache (a console session signed out here)."""
        digest = hashlib.sha256(presented.encode()).hexdigest()
        with self._keys_guard:
            self._keys.pop(digest, None)


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.sentinel
    return state


def _runtime(request: Request) -> ServerRuntime:
    return _state(request).runtime


def _app(request: Request) -> Sentinel:
    return _state(request).runtime.app


Runtime = Annotated[ServerRuntime, Depends(_runtime)]
App = Annotated[Sentinel, Depends(_app)]

_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="sentinel api-keys create")


def _caller(needed: Role) -> Callable[..., ApiKey]:
    """A dependency: the request's API key, rate-limited, with at least the ``needed`` role."""

    def check(request: Request, x_api_key: Annotated[str | None, Security(_API_KEY)]) -> ApiKey:
        return admit(request, x_api_key, needed)

    return check


def admit(request: Request, presented: str | None, needed: Role) -> ApiKey:
    """The key behind ``presented`` (a header or the console's cookie), rate-limited per key.

    Raises:
        Unauthorised: No key, or not a valid one.
        RateLimited: The key used up its ``[api] rate_limit``.
        PermissionDenied: Its role does not include ``needed``.
    """
    state = _state(request)
    key = state.authenticate(presented) if presented else None
    if key is None:
        raise Unauthorised()
    request.state.key_id = key.key_id
    if not state.limiter.hit(state.rate, key.key_id):
        reset = state.limiter.get_window_stats(state.rate, key.key_id).reset_time
        raise RateLimited(max(int(reset - time.time()) + 1, 1), state.limit)
    if not key.allows(needed):
        raise PermissionDenied(f"the {key.role} role may not do this; it needs {needed}")
    return key


Viewer = Annotated[ApiKey, Depends(_caller("viewer"))]
Analyst = Annotated[ApiKey, Depends(_caller("analyst"))]
Admin = Annotated[ApiKey, Depends(_caller("admin"))]


#: A page cursor: the position of the page's first item, as ``next_cursor`` gives it. At most
#: seven digits, so a forged one cannot send the warehouse a huge LIMIT/OFFSET.
CURSOR_PATTERN = r"^[0-9]{1,7}$"


def _offset(
    cursor: Annotated[
        str | None,
        Query(
            description="Where the page starts: the next_cursor of the previous page.",
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None,
) -> int:
    """The ``cursor`` query parameter as the offset it encodes (none: the first page)."""
    if cursor is None:
        return 0
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise UsageError("invalid cursor", "Pass back the next_cursor of a previous page.")
    return int(cursor)


#: Where a page starts (the query's ``cursor``, from the previous page's ``next_cursor``).
Offset = Annotated[int, Depends(_offset)]


def cursor_at(offset: int) -> str:
    """The cursor of the page that starts at ``offset``."""
    return str(offset)


def page(rows: list[Any], start: int, limit: int) -> tuple[list[Any], str | None]:
    """The API's one paging style: ``limit`` and an opaque ``cursor``.

    A list route asks its use case for ``limit + 1`` rows from ``start`` (the cursor's
    position); the extra row only says that another page follows.

    Returns:
        The page's rows and the cursor of the next page (None: this is the last).
    """
    more = len(rows) > limit
    return rows[:limit], cursor_at(start + limit) if more else None


def no_unknown_query(request: Request) -> None:
    """Refuse a query parameter the operation does not declare.

    The OpenAPI document is the contract: ``?since=notadate`` on a route without ``since`` is
    an error, not ignored.

    Raises:
        UsageError: An undeclared parameter (422, like any invalid request).
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    pending = [dependant]
    while pending:  # the operation's own parameters and those of its dependencies
        current = pending.pop()
        known.update(p.alias for p in current.query_params)
        pending.extend(current.dependencies)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UsageError(
            f"unknown query parameter {', '.join(unknown)}",
            f"This operation takes {', '.join(sorted(known)) or 'no query parameters'}.",
        )
