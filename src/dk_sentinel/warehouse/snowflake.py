"""Snowflake, the production warehouse.

``snowflake.connector`` is imported lazily (it is slow to import) and always called through
the module (``snowflake.connector.connect``) so that ``fakesnow.patch()`` can emulate it in
tests. Bulk loads use the connector's ``write_pandas`` path, never row-by-row INSERTs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dk_sentinel.config import WarehouseSettings, secret
from dk_sentinel.errors import ConfigError, RelationMissing, WarehouseUnavailable, WriteConflict
from dk_sentinel.warehouse.base import BaseWarehouse, Row

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


#: Every session, whatever the account's or user's defaults: UTC and timestamps without zone
#: (with TIMESTAMP_LTZ as-of literals would be read in the session zone, America/Los_Angeles by
#: default, and come back zone-aware), literals read as ISO 8601 whatever the user's input
#: format, each statement committed unless inside an explicit transaction (a user default of
#: AUTOCOMMIT = FALSE would leave a lease renewal or a run's status uncommitted), and a query
#: whose client went away aborted (a killed holder's statement must not commit after another
#: host took its lease over). The waits come from the settings (:func:`session_parameters`).
PINNED_SESSION: dict[str, object] = {
    "TIMEZONE": "UTC",
    "TIMESTAMP_TYPE_MAPPING": "TIMESTAMP_NTZ",
    "TIMESTAMP_INPUT_FORMAT": "AUTO",
    "AUTOCOMMIT": True,
    "ABORT_DETACHED_QUERY": True,
}


def session_parameters(settings: WarehouseSettings) -> dict[str, object]:
    """The pinned parameters of every session, with the waits from the settings.

    ``LOCK_TIMEOUT`` is ``busy_timeout_seconds`` (Snowflake's default is 12 hours: a lease taken
    behind a detached transaction would hang instead of exiting 75);
    ``STATEMENT_TIMEOUT_IN_SECONDS`` is ``[warehouse.snowflake] statement_timeout_seconds``.
    """
    return {
        **PINNED_SESSION,
        "LOCK_TIMEOUT": int(settings.busy_timeout_seconds),
        "STATEMENT_TIMEOUT_IN_SECONDS": settings.snowflake.statement_timeout_seconds,
        "QUERY_TAG": settings.snowflake.query_tag,
    }


def named_connection(name: str) -> dict[str, Any]:
    """A connection of the Snowflake ``connections.toml`` (the connector's own config reader).

    Raises:
        ConfigError: No such connection.
    """
    from snowflake.connector.config_manager import CONFIG_MANAGER

    connections: Any = CONFIG_MANAGER["connections"]
    if name not in connections:
        raise ConfigError(
            f"no Snowflake connection named {name!r} in connections.toml",
            "List them with `snow connection list`, or set account/user/authenticator instead.",
        )
    return dict(connections[name])


def sign_in(settings: WarehouseSettings) -> tuple[str, bool, str]:
    """How sentinel signs in to Snowflake, and whether that works unattended (cron, a server).

    Returns:
        The mode, whether it needs no person at a browser, and a one-line detail.
    """
    sf = settings.snowflake
    mode: str = sf.authenticator
    source = ""
    if sf.connection_name:
        named = named_connection(sf.connection_name)
        raw = str(named.get("authenticator", "snowflake")).lower()
        if raw in ("oauth_client_credentials", "workload_identity", "oauth_authorization_code"):
            raise ConfigError(
                f"connections.toml: sentinel does not take the {raw} sign-in from a named "
                "connection (dbt could not sign in with it)",
                "Set warehouse.snowflake.authenticator and its settings in sentinel.toml.",
            )
        mode = {"snowflake_jwt": "key_pair", "externalbrowser": "externalbrowser",
                "oauth": "oauth"}.get(raw, "password")  # fmt: skip
        source = f" (connections.toml: {sf.connection_name})"
    unattended = mode != "externalbrowser"
    detail = {
        "password": "password from $SNOWFLAKE_PASSWORD: works under cron",
        "key_pair": "key pair: works under cron and in servers (recommended)",
        "oauth": "OAuth token: works under cron while the token refresher keeps it current",
        "oauth_client_credentials": "OAuth client credentials: a token from the identity "
        "provider at each command; works under cron and in servers",
        "workload_identity": "workload identity of the host's platform: works under cron and "
        "in servers, no secret to keep",
        "externalbrowser": "SSO in a browser: not for cron or servers (a person must sign in; "
        "the connector caches the token for a few hours)",
    }[mode]
    return mode, unattended, detail + source


def connect_args(settings: WarehouseSettings) -> dict[str, Any]:
    """Build the keyword arguments of ``snowflake.connector.connect`` from settings + env secrets.

    Args:
        settings: The warehouse settings (``query_tag`` already names the command).

    Returns:
        Connection keyword arguments (contain secrets: never log them).

    Raises:
        ConfigError: A required setting or secret is missing.
    """
    sf = settings.snowflake
    args: dict[str, Any] = {
        "database": sf.database,
        "schema": settings.schemas.ops,
        "paramstyle": "qmark",
        "login_timeout": sf.login_timeout_seconds,
        "application": "dk_sentinel",
        "session_parameters": session_parameters(settings),
        # the session token is renewed while a long run or an idle server holds it (it does
        # not keep the warehouse running: that is billed by query only)
        "client_session_keep_alive": True,
    }
    if not sign_in(settings)[1] and not _at_a_terminal():  # (also: a named connection exists)
        raise ConfigError(
            "SSO in a browser needs a person at a terminal, and this process has none "
            "(cron, a server)",
            "Sign in unattended with authenticator = 'key_pair' (docs/snowflake.md).",
        )
    if sf.connection_name:  # sign_in above read it: a name that does not exist has failed
        return {**args, "connection_name": sf.connection_name}
    missing = [name for name in ("account", "user") if not getattr(sf, name)]
    if missing:
        raise ConfigError(
            f"warehouse.snowflake.{missing[0]} is required for the snowflake backend",
            "Set it in sentinel.toml or SENTINEL_WAREHOUSE__SNOWFLAKE__" + missing[0].upper(),
        )
    args.update(account=sf.account, user=sf.user, warehouse=sf.warehouse)
    if sf.role:
        args["role"] = sf.role
    if sf.host:
        args.update(host=sf.host, protocol=sf.protocol)
        if sf.port:
            args["port"] = sf.port
    if sf.authenticator == "password":
        password = secret("snowflake_password")
        if not password:
            raise ConfigError(
                "SNOWFLAKE_PASSWORD is not set",
                "Export SNOWFLAKE_PASSWORD, or use authenticator = 'key_pair'.",
            )
        args["password"] = password
    elif sf.authenticator == "key_pair":
        args["authenticator"] = "SNOWFLAKE_JWT"
        key = secret("snowflake_private_key")
        if key is not None:
            args["private_key"] = _private_key_der(key)
        elif sf.private_key_file is not None:
            args["private_key_file"] = str(sf.private_key_file)
            passphrase = secret("snowflake_private_key_passphrase")
            if passphrase:
                args["private_key_file_pwd"] = passphrase
        else:
            raise ConfigError(
                "key_pair authentication needs warehouse.snowflake.private_key_file "
                "or $SNOWFLAKE_PRIVATE_KEY"
            )
    elif sf.authenticator == "oauth":
        args.update(authenticator="oauth", token=_oauth_token(settings))
    elif sf.authenticator == "oauth_client_credentials":
        # the token is fetched here, once per command, and handed to dbt the same way
        args.update(authenticator="oauth", token=client_credentials_token(settings))
    elif sf.authenticator == "workload_identity":
        if not sf.workload_identity_provider:
            raise ConfigError(
                "workload_identity needs warehouse.snowflake.workload_identity_provider",
                "Set it to AWS, AZURE or GCP: the platform this host runs on.",
            )
        args.update(
            authenticator="WORKLOAD_IDENTITY",
            workload_identity_provider=sf.workload_identity_provider,
        )
    else:
        # SSO: the connector caches the token (keyring / ~/.cache) so that the next
        # connection of this user does not open a browser again
        args.update(authenticator="externalbrowser", client_store_temporary_credential=True)
    return args


def _at_a_terminal() -> bool:
    """Whether a person can answer (stdin is a terminal): never under cron or a server."""
    return sys.stdin is not None and sys.stdin.isatty()


#: Tokens from the identity provider, reused until a minute before they expire (a command
#: opens several connections, and a lease's heartbeat reconnects): (url, client, scope) ->
#: (token, monotonic expiry).
_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def client_credentials_token(settings: WarehouseSettings) -> str:
    """An access token from the identity provider (OAuth 2.0 client credentials grant).

    The client authenticates with HTTP Basic (RFC 6749, section 2.3.1): its id from
    ``warehouse.snowflake.oauth_client_id``, its secret from ``$SNOWFLAKE_OAUTH_CLIENT_SECRET``,
    only over https (or to this host). A token is reused until a minute before it expires.

    Raises:
        ConfigError: A setting or the secret is missing, or the provider refused.
    """
    import time
    from urllib.parse import urlsplit

    import httpx2

    sf = settings.snowflake
    client_secret = secret("snowflake_oauth_client_secret")
    if not (sf.oauth_token_url and sf.oauth_client_id and client_secret):
        raise ConfigError(
            "oauth_client_credentials needs warehouse.snowflake.oauth_token_url, "
            "oauth_client_id and $SNOWFLAKE_OAUTH_CLIENT_SECRET",
            "Register sentinel as a client of your identity provider (docs/snowflake.md).",
        )
    url = urlsplit(sf.oauth_token_url)
    if url.scheme != "https" and url.hostname not in _LOOPBACK:
        raise ConfigError(
            f"the OAuth token endpoint must use https: {sf.oauth_token_url}",
            "The client secret is sent to it.",
        )
    key = (sf.oauth_token_url, sf.oauth_client_id, sf.oauth_scope)
    held = _TOKENS.get(key)
    if held and held[1] > time.monotonic():
        return held[0]
    form = {"grant_type": "client_credentials"}
    if sf.oauth_scope:
        form["scope"] = sf.oauth_scope
    try:
        answer = httpx2.post(
            sf.oauth_token_url, data=form, auth=(sf.oauth_client_id, client_secret),
            timeout=sf.login_timeout_seconds,
        )  # fmt: skip
        body = answer.json() if answer.status_code == 200 else {}
    except httpx2.HTTPError as exc:
        raise ConfigError(f"the OAuth token endpoint could not be reached: {exc}") from None
    except ValueError:  # not JSON (a proxy's page)
        body = {}
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ConfigError(
            f"the identity provider refused a token (HTTP {answer.status_code})",
            "Check the client id, its secret and the scope.",
        )
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) else 300.0
    _TOKENS[key] = (token, time.monotonic() + max(0.0, seconds - 60))
    return token


def _oauth_token(settings: WarehouseSettings) -> str:
    token = secret("snowflake_oauth_token")
    path = settings.snowflake.oauth_token_file
    if token is None and path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read the OAuth token file {path}: {exc}") from None
    if token is None:
        raise ConfigError(
            "oauth authentication needs $SNOWFLAKE_OAUTH_TOKEN or "
            "warehouse.snowflake.oauth_token_file"
        )
    return token


def _private_key_der(pem: str) -> bytes:
    """The private key of ``$SNOWFLAKE_PRIVATE_KEY`` (PEM, optionally encrypted) as DER."""
    from cryptography.hazmat.primitives import serialization

    passphrase = secret("snowflake_private_key_passphrase")
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"$SNOWFLAKE_PRIVATE_KEY is not a usable PEM key: {exc}") from None
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _snowflake_type(arrow_type: Any) -> str:
    """The Snowflake column type for an Arrow type."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_decimal(arrow_type):
        return f"number({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp_ntz"
    if pa.types.is_date(arrow_type):
        return "date"
    return "varchar"


def _microseconds(batch: pa.Table) -> pa.Table:
    """``batch`` with its timestamps in microseconds (a TIMESTAMP_NTZ(9) comes in nanoseconds)."""
    import pyarrow as pa

    for i, field in enumerate(batch.schema):
        if pa.types.is_timestamp(field.type) and field.type.unit != "us":
            column = batch.column(i).cast(pa.timestamp("us", field.type.tz), safe=False)
            batch = batch.set_column(i, field.name, column)
    return batch


_OBJECT_MISSING = 2003
#: 000625: "... aborted because the number of waiters for this lock exceeds the 20 statements
#: limit" -- a statement Snowflake refused to queue; running it again is safe.
_TOO_MANY_LOCK_WAITERS = 625


class SnowflakeWarehouse(BaseWarehouse):
    """A warehouse in a Snowflake database (schemas from config)."""

    backend = "snowflake"

    def __init__(self, settings: WarehouseSettings) -> None:
        super().__init__(settings.schemas)
        import snowflake.connector

        args = connect_args(settings)
        try:
            self.con = snowflake.connector.connect(**args)
        except snowflake.connector.errors.Error as exc:
            raise WarehouseUnavailable(
                f"cannot connect to Snowflake account {args['account']}: {exc.msg}"
            ) from None
        self._local: Any = None
        # fakesnow's server takes no PUT upload: bulk loads there go through INSERT instead
        self._emulator = settings.snowflake.emulator

    @contextmanager
    def _executed(self, sql: str, params: Sequence[Any]) -> Iterator[Any]:
        """A cursor that has run ``sql``, Snowflake's errors mapped to sentinel's; closed after."""
        import snowflake.connector

        cursor = self.con.cursor()
        try:
            try:
                cursor.execute(sql, list(params) if params else None)
            except snowflake.connector.errors.ProgrammingError as exc:
                # 002003 / 42S02: "Object ... does not exist or not authorized"
                if exc.errno == _OBJECT_MISSING or exc.sqlstate == "42S02":
                    first = (exc.msg or "").strip().splitlines()[0:1]
                    raise RelationMissing(
                        f"the warehouse schema is missing a table: {' '.join(first)}"
                    ) from exc
                if exc.errno == _TOO_MANY_LOCK_WAITERS:
                    raise WriteConflict(
                        f"too many writers queued for one table: {exc.msg}"
                    ) from exc
                raise
            except Exception as exc:
                # fakesnow runs on DuckDB and reports a concurrent write as DuckDB does.
                if type(exc).__name__ == "TransactionException" and "onflict" in str(exc):
                    raise WriteConflict(f"a concurrent transaction won: {exc}") from exc
                raise
            yield cursor
        finally:
            cursor.close()

    def _run(self, sql: str, params: Sequence[Any], fetch: bool) -> tuple[list[str], list[Row]]:
        with self._executed(sql, params) as cursor:
            if not fetch:
                return [], []
            names = [d[0].lower() for d in (cursor.description or [])]
            return names, [tuple(r) for r in cursor.fetchall()]

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query, rows as an Arrow table: the connector's Arrow result batches.

        Snowflake sends each result chunk with the narrowest integer type its values fit
        (int8 in one chunk, int16 in the next), and the connector's ``fetch_arrow_all`` joins
        them without reconciling the types, so the batches are joined here with the types
        promoted, timestamps in microseconds as on DuckDB. A result sent as JSON (some
        metadata queries), or a connector without Arrow fetches (the emulator's), is read row
        by row instead.
        """
        import pyarrow as pa
        from snowflake.connector.errors import NotSupportedError

        with self._executed(self.sql(sql), params) as cursor:
            names = [d[0].lower() for d in (cursor.description or [])]
            batches: list[pa.Table] | None = None
            if hasattr(cursor, "fetch_arrow_batches"):
                with suppress(NotSupportedError):  # not an Arrow result: nothing fetched yet
                    batches = [_microseconds(batch) for batch in cursor.fetch_arrow_batches()]
            if batches:
                table = pa.concat_tables(batches, promote_options="permissive")
                return table.rename_columns(names)
            rows = cursor.fetchall() if batches is None else []
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def stage(self, name: str, data: pa.Table) -> None:
        """Bulk-load an Arrow table into the temporary table ``name`` with ``write_pandas``.

        The table is created from the Arrow schema (so types are exact), then filled through
        the connector's bulk path (PUT + COPY INTO), never row by row.
        """
        from snowflake.connector import pandas_tools

        columns = ", ".join(f"{field.name} {_snowflake_type(field.type)}" for field in data.schema)
        self.execute(f"create or replace temporary table {name} ({columns})")

        # Decimals travel as text: exact, and the typed column parses them on COPY.
        import pyarrow as pa

        data = data.cast(
            pa.schema(
                pa.field(f.name, pa.string()) if pa.types.is_decimal(f.type) else f
                for f in data.schema
            )
        )
        if self._emulator:  # the emulator only: plain inserts
            self.insert_rows(name, [list(r.values()) for r in data.to_pylist()])
            return
        frame = data.to_pandas()
        frame.columns = [c.upper() for c in frame.columns]
        if frame.empty:
            return
        ok, _, nrows, _ = pandas_tools.write_pandas(
            self.con, frame, name.upper(), quote_identifiers=False, use_logical_type=True
        )
        if not ok or nrows != len(frame):
            raise WarehouseUnavailable(f"bulk load into {name} loaded {nrows} of {len(frame)} rows")

    def local_engine(self) -> Any:
        """An in-memory DuckDB used to read and validate files before the bulk load."""
        if self._local is None:
            import duckdb

            self._local = duckdb.connect(":memory:")
        return self._local

    def publish_local(self, name: str, select_sql: str) -> None:
        """Bulk-load a local query's rows into the temporary table ``name`` (:meth:`stage`)."""
        self.stage(name, self.local_engine().sql(select_sql).to_arrow_table())

    def fetch_to_local(
        self, name: str, select_sql: str, columns: Sequence[tuple[str, str]]
    ) -> None:
        """Copy a warehouse query's (small) result into the local table ``name``.

        Args:
            name: The local table to (re)create.
            select_sql: A warehouse query returning ``columns`` in order.
            columns: (name, DuckDB type) of each column, so an empty result is typed too.
        """
        rows = self.query(select_sql)
        local = self.local_engine()
        local.execute(
            f"create or replace temp table {name} ({', '.join(f'{c} {t}' for c, t in columns)})"
        )
        if rows:
            marks = ", ".join("?" for _ in columns)
            local.executemany(f"insert into {name} values ({marks})", [list(r) for r in rows])

    def clock(self) -> datetime:
        """Snowflake's time (``SYSDATE()``: UTC, without zone), whatever the host's clock says.

        A lease's expiry is written and compared on it, so a host whose clock runs ahead
        cannot take a lease that has not expired.
        """
        value = self.query("select sysdate()")[0][0]
        assert isinstance(value, datetime)
        return value.replace(tzinfo=None)

    def alive(self, *, probe: bool) -> bool:
        """Whether the connection can still be used (``probe``: ask the server with a query)."""
        if self.con.is_closed():
            return False
        if not probe:
            return True
        try:
            cursor = self.con.cursor()
            cursor.execute("select 1")
            cursor.fetchall()
            cursor.close()
        except Exception:  # any failure: the pool opens a fresh connection instead
            return False
        return True

    def close(self) -> None:
        """Close the Snowflake connection and the local engine."""
        if self._local is not None:
            self._local.close()
            self._local = None
        self.con.close()
