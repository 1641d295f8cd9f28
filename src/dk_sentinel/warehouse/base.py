"""The warehouse protocol and what both implementations share (the package face re-exports it).

Kept apart from the package's ``__init__`` so the two implementations import it without
importing the package that chooses between them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from dk_sentinel.config import SchemaNames
from dk_sentinel.models import utcnow

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

    def clock(self) -> datetime:
        """The warehouse's current time, UTC and naive: one clock for every host's leases."""
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

    def clock(self) -> datetime:
        """The host's time (an embedded file is on the one host that can open it)."""
        return utcnow()

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


def page_clause(limit: int | None, offset: int = 0) -> str:
    """`` limit N offset M`` to end a query with ("" when ``limit`` is None: every row).

    Literals, not parameters: some Snowflake versions refuse a bound LIMIT. Both are
    validated integers, so nothing a caller passes reaches the SQL as text.
    """
    if limit is None:
        return ""
    return f" limit {int(limit)}" + (f" offset {int(offset)}" if offset else "")
