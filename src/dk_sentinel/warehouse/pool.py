"""Warehouse connections for a long-running process (``sentinel serve``).

A CLI command opens the warehouse, works and closes it. A server answering many requests a
second cannot pay that each time (opening the 100k-player DuckDB file costs ~16 ms), so its
application object takes its connections from the pool :func:`open_pool` makes (a
:class:`~dk_sentinel.warehouse.Connections`):

- **DuckDB** (:class:`SharedDuckDB`): the server keeps one connection to the file and lends
  each request its own cursor (DuckDB runs them in parallel, with MVCC). It gives the file up
  whenever another process waits for it (``<file>.lock.wanted``, see
  :mod:`dk_sentinel.warehouse.duckdb`) and after a second without requests, so cron's
  ``score-batch`` and every CLI command keep working. While another process holds the file a
  request waits at most ``busy_timeout_seconds``, then gets :class:`BusyError` (HTTP 503);
  the next requests of that second fail at once instead of queueing behind each other.
- **Snowflake** (:class:`SnowflakePool`): up to ``size`` open connections, reused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dk_sentinel.config import Settings, WarehouseSettings
from dk_sentinel.errors import BusyError, SentinelError
from dk_sentinel.warehouse import Connections, Warehouse

log = logging.getLogger(__name__)

#: Give the embedded file back after this long without a request.
IDLE_SECONDS = 1.0
#: A pooled Snowflake connection idle longer than this is probed (``select 1``) before use.
IDLE_PROBE_SECONDS = 60.0


class SharedDuckDB:
    """One DuckDB connection shared by the threads of a server (see the module docstring)."""

    def __init__(self, settings: WarehouseSettings) -> None:
        """Prepare the pool; the file is opened on the first request (nothing runs before).

        Args:
            settings: The warehouse settings (``busy_timeout_seconds``: a request's wait).
        """
        from filelock import FileLock

        self._settings = settings
        # The pool's own lock object: taken by one thread, released by another (the watcher).
        self._file_lock = FileLock(
            str(settings.duckdb.path.resolve()) + ".lock", thread_local=False
        )
        self._changed = threading.Condition()
        self._owner: Any = None  # the open DuckDBWarehouse, or None
        self._users = 0
        self._handing_over = False
        self._opening = False
        self._failed_until = 0.0
        self._failure: SentinelError | None = None
        self._last_used = time.monotonic()
        self._watching = False  # a watcher thread runs while the file is open

    @contextmanager
    def connect(self) -> Iterator[Warehouse]:
        """A cursor of the shared connection, opening the file first if needed.

        Raises:
            BusyError: Another process kept the file past the busy timeout.
        """
        cursor = self._acquire()
        try:
            yield cursor
        finally:
            cursor.close()
            with self._changed:
                self._users -= 1
                self._last_used = time.monotonic()
                self._changed.notify_all()

    def _acquire(self) -> Warehouse:
        from dk_sentinel.warehouse.duckdb import DuckDBWarehouse

        with self._changed:
            while True:
                if self._handing_over or self._opening:
                    self._changed.wait()
                elif self._owner is not None:
                    self._users += 1
                    return self._owner.cursor()  # type: ignore[no-any-return]
                elif self._failure is not None and time.monotonic() < self._failed_until:
                    raise self._failure
                else:
                    self._opening = True  # this thread opens; the others wait for it
                    break
        try:
            owner = DuckDBWarehouse(self._settings, lock=self._file_lock)
        except BaseException as exc:
            with self._changed:
                self._opening = False
                if isinstance(exc, BusyError):  # the next requests of this second fail at once
                    self._failure, self._failed_until = exc, time.monotonic() + 1.0
                self._changed.notify_all()
            raise
        with self._changed:
            self._owner, self._opening, self._failure = owner, False, None
            self._users += 1
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._watch, name="warehouse-watch", daemon=True).start()
            self._changed.notify_all()
            return owner.cursor()

    def _watch(self) -> None:
        """Give the file back when idle or wanted; ends once the file is closed."""
        from dk_sentinel.warehouse.duckdb import someone_waits

        while True:
            time.sleep(0.05)
            with self._changed:
                if self._owner is None:
                    self._watching = False
                    return
                idle = self._users == 0 and time.monotonic() - self._last_used > IDLE_SECONDS
                if not (idle or someone_waits(self._settings.duckdb.path)):
                    continue
                self._handing_over = True  # new leases wait; the running ones finish
                while self._users:
                    self._changed.wait()
                self._release_file()
                self._handing_over = False
                self._changed.notify_all()
            time.sleep(0.3)  # let the waiter take the file before the next request reopens it

    def _release_file(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.close()
            log.debug("gave the warehouse file back")

    def close(self) -> None:
        """Close the file, waiting for running requests (its watcher then ends).

        The pool stays usable: a later request opens the file again.
        """
        with self._changed:
            while self._users:
                self._changed.wait()
            self._release_file()


class SnowflakePool:
    """Up to ``size`` Snowflake connections, opened on demand and reused."""

    def __init__(self, settings: WarehouseSettings, size: int) -> None:
        """Prepare the pool.

        Args:
            settings: The warehouse settings.
            size: The most connections open at once (a lease waits for a free one).
        """
        self._settings = settings
        self._idle: list[tuple[Any, float]] = []  # (connection, when it was given back)
        self._slots = threading.BoundedSemaphore(size)
        self._guard = threading.Lock()

    @contextmanager
    def connect(self) -> Iterator[Warehouse]:
        """A pooled connection, checked before use; one that failed mid-use is not reused."""
        from dk_sentinel.warehouse.snowflake import SnowflakeWarehouse

        self._slots.acquire()
        try:
            with self._guard:
                idle = self._idle.pop() if self._idle else None
            wh = None
            if idle is not None:
                wh, since = idle
                # after a long idle the session may have expired (or the network dropped it):
                # the first request would fail, so a cheap query checks it first
                if not wh.alive(probe=time.monotonic() - since > IDLE_PROBE_SECONDS):
                    log.info("a pooled Snowflake connection was dead; opening a new one")
                    wh.close()
                    wh = None
            if wh is None:
                wh = SnowflakeWarehouse(self._settings)
            try:
                yield wh
            except BaseException:
                wh.close()
                raise
            with self._guard:
                self._idle.append((wh, time.monotonic()))
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close every idle connection."""
        with self._guard:
            idle, self._idle = self._idle, []
        for wh, _since in idle:
            wh.close()


def open_pool(settings: Settings, size: int = 4) -> Connections:
    """A pool of connections to the configured warehouse, for a server's lifetime.

    Args:
        settings: Loaded settings.
        size: Snowflake connections at most (DuckDB shares one).

    Returns:
        The pool; ``close()`` it when the server stops.
    """
    wh = settings.warehouse
    return SharedDuckDB(wh) if wh.backend == "duckdb" else SnowflakePool(wh, size)
