"""The embedded DuckDB warehouse (the default backend).

DuckDB lets one process at a time open a file. Every sentinel process first takes a real
file lock beside the database (``<file>.lock``, via ``filelock``) and holds it until the
DuckDB connection is closed and checkpointed, so opens and closes of different processes
never overlap; score-batch holds the same lock while its dbt child uses the file. Waiting is
bounded by ``busy_timeout_seconds`` and announced on stderr; then :class:`BusyError` (75).

A process that has to wait says so in ``<file>.lock.wanted`` (touched while it waits): a
long-running holder -- ``sentinel serve``, see :mod:`dk_sentinel.warehouse.pool` -- watches it
and hands the file over instead of starving cron and the CLI.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from dk_sentinel.config import WarehouseSettings
from dk_sentinel.errors import BusyError, RelationMissing, WarehouseUnavailable, WriteConflict
from dk_sentinel.warehouse.base import BaseWarehouse, Row

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
_HOLDER = re.compile(r"held in (?P<prog>.+?) \(PID (?P<pid>\d+)\)")


def _is_lock_error(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


def connect_with_retry(path: str, busy_timeout: float, config: dict[str, Any]) -> Any:
    """Open a DuckDB file, waiting while another process holds its lock.

    Args:
        path: The database file.
        busy_timeout: Seconds to wait for the lock before giving up.
        config: DuckDB configuration options.

    Returns:
        An open DuckDB connection.

    Raises:
        BusyError: The lock was still held after ``busy_timeout`` seconds.
        WarehouseUnavailable: The file cannot be opened for another reason.
    """
    deadline = time.monotonic() + busy_timeout
    announced = False
    delay = 0.02
    while True:
        try:
            return duckdb.connect(path, config=config)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise WarehouseUnavailable(f"cannot open warehouse file {path}: {exc}") from exc
            match = _HOLDER.search(str(exc))
            holder = f"process {match['pid']}" if match else "another process"
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"the warehouse {path} is locked by {holder} (waited {busy_timeout:g} s)",
                    "Another sentinel command (often score-batch) is using it; retry in a "
                    "moment or raise warehouse.busy_timeout_seconds.",
                ) from None
            if not announced:
                log.warning("waiting for the warehouse: %s holds %s", holder, path)
                announced = True
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 1.5, 0.25)


#: How often a waiter re-announces itself in ``<file>.lock.wanted`` (a holder treats an
#: announcement older than 4 of these as stale).
WANTED_EVERY_SECONDS = 0.25


def wanted_file(path: Path) -> Path:
    """The file a process waiting for the warehouse touches (see the module docstring)."""
    return Path(str(path.resolve()) + ".lock.wanted")


def warehouse_lock(path: Path, busy_timeout: float, *, lock: Any = None) -> Any:
    """Acquire the cross-process lock of a DuckDB warehouse file (re-entrant in one thread).

    Args:
        path: The database file.
        busy_timeout: Seconds to wait.
        lock: A ``filelock.FileLock`` of the caller's own (default: this thread's shared one).

    Returns:
        The acquired ``filelock.FileLock``; call ``release()`` when done.

    Raises:
        BusyError: Another process kept it past the timeout.
    """
    from filelock import FileLock, Timeout

    key = str(path.resolve())
    if lock is None:
        # one lock object per file in this process (filelock keeps them), so it is re-entrant
        lock = FileLock(key + ".lock", is_singleton=True)
    try:
        lock.acquire(timeout=0)
        return lock
    except Timeout:
        log.warning("waiting for the warehouse: another sentinel command is using %s", path)
    wanted = wanted_file(path)
    deadline = time.monotonic() + busy_timeout
    while True:
        wanted.touch()
        try:
            lock.acquire(timeout=max(min(WANTED_EVERY_SECONDS, deadline - time.monotonic()), 0))
            return lock
        except Timeout:
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"the warehouse {path} is locked by another sentinel command "
                    f"(waited {busy_timeout:g} s)",
                    "It is probably score-batch; retry in a moment or raise "
                    "warehouse.busy_timeout_seconds.",
                ) from None


def someone_waits(path: Path) -> bool:
    """Whether another process announced within the last second that it waits for the file."""
    try:
        age = time.time() - wanted_file(path).stat().st_mtime
    except OSError:
        return False
    return age < 4 * WANTED_EVERY_SECONDS


def file_stamp(path: Path) -> tuple[tuple[int, int], ...]:
    """The size and modification time of a DuckDB file and its write-ahead log.

    Every commit appends to the log and a checkpoint rewrites the file, so a stamp that did
    not change means nothing was written (``sentinel serve`` polls with it).
    """
    stamps = []
    for name in (Path(path), Path(f"{path}.wal")):
        try:
            stat = name.stat()
            stamps.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamps.append((-1, -1))
    return tuple(stamps)


class DuckDBWarehouse(BaseWarehouse):
    """A warehouse in one embedded DuckDB file."""

    backend = "duckdb"

    def __init__(self, settings: WarehouseSettings, *, lock: Any = None) -> None:
        """Open the file, taking its lock (``lock``: a ``FileLock`` of the caller's own)."""
        super().__init__(settings.schemas)
        self.path = settings.duckdb.path
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = warehouse_lock(self.path, settings.busy_timeout_seconds, lock=lock)
        try:
            self.con = connect_with_retry(
                str(self.path),
                settings.busy_timeout_seconds,
                {"memory_limit": settings.duckdb.memory_limit, "threads": settings.duckdb.threads},
            )
        except BaseException:
            self._lock.release()
            raise

    def cursor(self) -> DuckDBWarehouse:
        """Another connection to this open file, for another thread (DuckDB's ``cursor``).

        Its :meth:`close` closes only the cursor; the file stays with this warehouse.
        """
        other = DuckDBWarehouse.__new__(DuckDBWarehouse)
        BaseWarehouse.__init__(other, self.schemas)
        other.path, other.con, other._lock = self.path, self.con.cursor(), None
        return other

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query, rows as an Arrow table (DuckDB's own columnar fetch)."""
        with self._mapped_errors():
            table = self.con.sql(self.sql(sql), params=list(params)).to_arrow_table()
        return table.rename_columns([name.lower() for name in table.column_names])

    def _run(self, sql: str, params: Sequence[Any], fetch: bool) -> tuple[list[str], list[Row]]:
        with self._mapped_errors():
            cursor = self.con.execute(sql, list(params))
        if not fetch:
            return [], []
        names = [d[0].lower() for d in (cursor.description or [])]
        return names, cursor.fetchall()

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """DuckDB's errors as the warehouse's: a missing table, a write conflict."""
        try:
            yield
        except duckdb.CatalogException as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RelationMissing(f"the warehouse schema is missing a table: {first}") from exc
        except duckdb.TransactionException as exc:
            if "conflict" in str(exc).lower():
                raise WriteConflict(
                    f"a concurrent transaction changed the same rows: {exc}"
                ) from exc
            raise

    def stage(self, name: str, data: pa.Table) -> None:
        """Load an Arrow table into the temporary table ``name``."""
        self.con.register("_sentinel_stage_src", data)
        try:
            self.con.execute(
                f"create or replace temp table {name} as select * from _sentinel_stage_src"
            )
        finally:
            self.con.unregister("_sentinel_stage_src")

    def local_engine(self) -> Any:
        """The warehouse connection itself: staging tables made there are visible to queries."""
        return self.con

    def publish_local(self, name: str, select_sql: str) -> None:
        """Make a local query's rows visible to warehouse queries as ``name``.

        The local engine is this connection, so a view is enough: nothing is copied.
        """
        self.con.execute(f"create or replace temp view {name} as {select_sql}")

    def fetch_to_local(
        self, name: str, select_sql: str, columns: Sequence[tuple[str, str]]
    ) -> None:
        """Make a warehouse query's rows visible to local queries as the table ``name``.

        The same connection: no round trip (nor pandas, ~0.4 s to import); ``columns`` name
        the result's columns in order.
        """
        names = ", ".join(c for c, _ in columns)
        self.con.execute(
            f"create or replace temp table {name} as select {names} from ({self.sql(select_sql)})"
        )

    def close(self) -> None:
        """Close (and so checkpoint) the connection, then release the file lock."""
        try:
            self.con.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
