"""THE warehouse client: the only module that talks to a database.

A small protocol (:class:`Warehouse`) with two implementations, the embedded
:class:`~dk_sentinel.warehouse.duckdb.DuckDBWarehouse` (default) and
:class:`~dk_sentinel.warehouse.snowflake.SnowflakeWarehouse` (production), and
:func:`open_warehouse`, the factory from :class:`~dk_sentinel.config.Settings`.

SQL is written once for both engines: ``?`` parameters, and the schema names from config
written as ``{raw}``, ``{ops}`` and ``{analytics}`` (validated identifiers, substituted here).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from dk_sentinel.config import Settings
from dk_sentinel.errors import WarehouseUnavailable
from dk_sentinel.warehouse.base import BaseWarehouse, Row, Warehouse, page_clause


def open_warehouse(settings: Settings, *, read_only: bool = False) -> Warehouse:
    """Open the configured warehouse.

    Args:
        settings: Loaded settings.
        read_only: Hint that the caller only reads (DuckDB still takes the file lock).

    Returns:
        An open warehouse; close it (or use :func:`connect`).

    Raises:
        WarehouseUnavailable: The warehouse cannot be reached.
        BusyError: The embedded file stayed locked past the busy timeout.
    """
    if settings.warehouse.backend == "snowflake":
        from dk_sentinel.warehouse.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse(settings.warehouse)
    from dk_sentinel.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings.warehouse)


def require_existing(settings: Settings) -> None:
    """Refuse to go on where opening the warehouse would create an empty one.

    Raises:
        WarehouseUnavailable: The embedded file does not exist (a mistyped ``--db`` must not
            read as an empty queue, "nobody at risk").
    """
    path = Path(settings.warehouse.duckdb.path)
    if settings.warehouse.backend == "duckdb" and not path.exists():
        raise WarehouseUnavailable(
            f"no warehouse at {path}",
            "Check --db, $SENTINEL_DB or [warehouse.duckdb] path; "
            "`sentinel init` creates a new one.",
        )


@contextmanager
def lent_to_a_child_process(settings: Settings) -> Iterator[None]:
    """Hold the embedded file's lock while a child process (dbt) uses the file.

    Other sentinel commands then wait (and say so) instead of racing the child for DuckDB's
    own lock. Snowflake needs nothing.
    """
    if settings.warehouse.backend != "duckdb":
        yield
        return
    from dk_sentinel.warehouse.duckdb import warehouse_lock

    lock = warehouse_lock(settings.warehouse.duckdb.path, settings.warehouse.busy_timeout_seconds)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def connect(settings: Settings) -> Iterator[Warehouse]:
    """Open the configured warehouse for the duration of a ``with`` block and always close it.

    Args:
        settings: Loaded settings.

    Yields:
        The open warehouse.
    """
    warehouse = open_warehouse(settings)
    try:
        yield warehouse
    finally:
        warehouse.close()


class Connections(Protocol):
    """Where an application's warehouse connections come from.

    :class:`DirectConnections` opens one per block (a CLI command); the server's pools
    (:mod:`dk_sentinel.warehouse.pool`) lend shared ones.
    """

    def connect(self) -> AbstractContextManager[Warehouse]:
        """A connection for the duration of a ``with`` block, closed or given back after."""
        ...

    def close(self) -> None:
        """Close every connection still open (idempotent)."""
        ...


class DirectConnections:
    """A new connection for each ``with`` block, closed at its end (the CLI's source)."""

    def __init__(self, settings: Settings) -> None:
        """Open nothing yet.

        Args:
            settings: Loaded settings (the warehouse to open).
        """
        self.settings = settings

    def connect(self) -> AbstractContextManager[Warehouse]:
        """Open the warehouse for one block (see :func:`connect`)."""
        return connect(self.settings)

    def close(self) -> None:
        """Nothing stays open between blocks."""


__all__ = [
    "BaseWarehouse",
    "Connections",
    "DirectConnections",
    "Row",
    "Warehouse",
    "connect",
    "lent_to_a_child_process",
    "open_warehouse",
    "page_clause",
    "require_existing",
]
