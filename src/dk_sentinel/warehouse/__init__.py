"""THE warehouse client: the only module that talks to a database.

A small protocol (:class:`Warehouse`) with two implementations, the embedded
:class:`~dk_sentinel.warehouse.duckdb.DuckDBWarehouse` (default) and
:class:`~dk_sentinel.warehouse.snowflake.SnowflakeWarehouse` (production), and
:func:`open_warehouse`, the factory from :class:`~dk_sentinel.config.Settings`.

SQL is written once for both engines: ``?`` parameters, and the schema names from config
written as ``{raw}``, ``{ops}`` and ``{analytics}`` (validated identifiers, substituted here).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dk_sentinel.config import SchemaNames, Settings
from dk_sentinel.errors import WarehouseUnavailable

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

Row = tuple[Any, ...]
_ROWS_PER_INSERT = 500  # a statement's binds stay well under the drivers' limits


class Warehouse(Protocol):
    """What every service needs from a warehouse connection."""

    backend: str
    schemas: SchemaNames

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all rows."""
        ...

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query and return rows as dicts keyed by lower-case column name."""
        ...

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query and return its rows as an Arrow table, lower-case column names."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement that returns nothing of interest."""
        ...

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert a few hundred rows with multi-row ``VALUES`` statements (in a transaction).

        For rows made in Python inside a transaction, where :meth:`stage` cannot be used (its
        temporary table is DDL, which commits the transaction on Snowflake).
        """
        ...

    def stage(self, name: str, data: pa.Table) -> None:
        """Bulk-load an Arrow table into a temporary staging table ``name`` (replaced)."""
        ...

    def local_engine(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for set-based file validation (the warehouse itself on DuckDB)."""
        ...

    def publish_local(self, name: str, select_sql: str) -> None:
        """Make the rows of a query on :meth:`local_engine` visible to :meth:`query` as ``name``.

        DuckDB: a view on the same connection. Snowflake: a bulk load into a temporary table.
        """
        ...

    def fetch_to_local(
        self, name: str, select_sql: str, columns: Sequence[tuple[str, str]]
    ) -> None:
        """Make the rows of a warehouse query visible on :meth:`local_engine` as ``name``."""
        ...

    def transaction(self) -> Any:
        """Context manager: commit on success, roll back on any exception."""
        ...

    def replace_table(
        self, name: str, select_sql: str, params: Sequence[Any] = (), *, key: str
    ) -> None:
        """Replace table ``name`` with the rows of ``select_sql``, laid out for lookups by ``key``.

        Both: ordered by ``key`` (the zone maps of DuckDB and the micro-partitions of
        Snowflake then prune a point lookup to one block). DuckDB adds a unique index on it.
        """
        ...

    def close(self) -> None:
        """Close the connection (idempotent)."""
        ...


class BaseWarehouse:
    """Shared behaviour: schema placeholders, dict rows, transactions."""

    backend = "base"

    def __init__(self, schemas: SchemaNames) -> None:
        self.schemas = schemas
        self._in_transaction = False

    def sql(self, text: str) -> str:
        """Substitute the validated schema names into ``text``.

        Args:
            text: SQL with ``{raw}``, ``{ops}`` or ``{analytics}`` placeholders.

        Returns:
            The SQL to run.
        """
        return (
            text.replace("{raw}", self.schemas.raw)
            .replace("{ops}", self.schemas.ops)
            .replace("{analytics}", self.schemas.analytics)
        )

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all rows (see :class:`Warehouse`)."""
        return self._run(self.sql(sql), params, fetch=True)[1]

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query and return rows as dicts (see :class:`Warehouse`)."""
        names, rows = self._run(self.sql(sql), params, fetch=True)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement (see :class:`Warehouse`)."""
        self._run(self.sql(sql), params, fetch=False)

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows, 500 a statement (see :class:`Warehouse`)."""
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            marks = ", ".join("(" + ", ".join("?" for _ in row) + ")" for row in chunk)
            self.execute(f"insert into {table} values {marks}", [v for row in chunk for v in row])

    def _run(self, sql: str, params: Sequence[Any], fetch: bool) -> tuple[list[str], list[Row]]:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit on success, roll back on any exception; nested calls join the outer one."""
        if self._in_transaction:
            yield
            return
        self._run("begin transaction", (), fetch=False)
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            self._run("rollback", (), fetch=False)
            raise
        self._in_transaction = False
        try:
            self._run("commit", (), fetch=False)
        except BaseException:
            with suppress(Exception):  # a failed commit may leave the transaction open
                self._run("rollback", (), fetch=False)
            raise

    def replace_table(
        self, name: str, select_sql: str, params: Sequence[Any] = (), *, key: str
    ) -> None:
        """Replace ``name`` with a query's rows, ordered by ``key`` (see :class:`Warehouse`)."""
        self.execute(f"create or replace table {name} as {select_sql} order by {key}", params)


def page_clause(limit: int | None, offset: int = 0) -> str:
    """`` limit N offset M`` to end a query with ("" when ``limit`` is None: every row).

    Literals, not parameters: some Snowflake versions refuse a bound LIMIT. Both are
    validated integers, so nothing a caller passes reaches the SQL as text.
    """
    if limit is None:
        return ""
    return f" limit {int(limit)}" + (f" offset {int(offset)}" if offset else "")


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
