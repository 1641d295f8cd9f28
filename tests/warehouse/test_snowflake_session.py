"""Pinned Snowflake sessions and sign-in (issue #25): every connection, the dbt profile, DDL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from conftest import invoke
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.errors import ConfigError
from dk_sentinel.scoring.dbt import PROJECT_DIR, profile_yaml
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.schema import bootstrap
from dk_sentinel.warehouse.snowflake import connect_args, sign_in

PINNED = {"TIMEZONE": "UTC", "TIMESTAMP_TYPE_MAPPING": "TIMESTAMP_NTZ"}


def _snowflake(**extra: Any) -> Settings:
    return load_settings(
        overrides={"warehouse.backend": "snowflake", "warehouse.snowflake.account": "xy12345",
                   "warehouse.snowflake.user": "svc_sentinel", **extra}
    )  # fmt: skip


def test_every_connection_of_a_command_is_pinned_and_tagged_with_it(
    fakesnow_settings: Settings, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import snowflake.connector

    calls: list[dict[str, Any]] = []
    real = snowflake.connector.connect

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    with connect(fakesnow_settings) as wh:
        bootstrap(wh)
    env = {"SENTINEL_WAREHOUSE__BACKEND": "snowflake",
           "SENTINEL_WAREHOUSE__SNOWFLAKE__ACCOUNT": "fakesnow",
           "SENTINEL_WAREHOUSE__SNOWFLAKE__USER": "tester"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock.patch("snowflake.connector.connect", spy):
        result = invoke(runner, "runs", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert calls, "no Snowflake connection was opened"
    for kwargs in calls:
        params = kwargs["session_parameters"]
        assert {k: params[k] for k in PINNED} == PINNED
        assert params["QUERY_TAG"] == "dk-sentinel:runs"
        assert kwargs["client_session_keep_alive"] is True


def test_the_dbt_profile_and_every_model_pin_the_session_too() -> None:
    profile = profile_yaml(
        _snowflake(**{"warehouse.snowflake.query_tag": "dk-sentinel:score-batch"})
    )
    assert 'query_tag: "dk-sentinel:score-batch"' in profile
    assert "client_session_keep_alive: true" in profile
    project = (PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8")
    assert '+pre-hook: "{{ pin_session() }}"' in project
    macro = (PROJECT_DIR / "macros" / "scoring.sql").read_text(encoding="utf-8")
    assert "alter session set timezone = 'UTC', timestamp_type_mapping = 'TIMESTAMP_NTZ'" in macro
    for pinned in ("autocommit = true", "abort_detached_query = true", "lock_timeout =",
                   "statement_timeout_in_seconds =", "timestamp_input_format = 'AUTO'"):  # fmt: skip
        assert pinned in macro
    assert project.count('+pre-hook: "{{ pin_session() }}"') == 2  # models and seeds


def test_every_session_pins_autocommit_and_the_waits_of_the_settings() -> None:
    """Issue #38: a user's AUTOCOMMIT = FALSE, Snowflake's 12-hour LOCK_TIMEOUT, a detached
    query that still commits: none of them reaches sentinel's sessions or dbt's."""
    from dk_sentinel.scoring.dbt import dbt_vars
    from dk_sentinel.warehouse.snowflake import session_parameters

    settings = _snowflake(**{"warehouse.busy_timeout_seconds": 45,
                             "warehouse.snowflake.statement_timeout_seconds": 900})  # fmt: skip
    params = session_parameters(settings.warehouse)
    assert params["AUTOCOMMIT"] is True and params["ABORT_DETACHED_QUERY"] is True
    assert params["LOCK_TIMEOUT"] == 45 and params["STATEMENT_TIMEOUT_IN_SECONDS"] == 900
    assert params["TIMESTAMP_INPUT_FORMAT"] == "AUTO" and params["TIMEZONE"] == "UTC"
    variables = dbt_vars(settings)
    assert variables["lock_timeout_seconds"] == 45
    assert variables["statement_timeout_seconds"] == 900


def test_ddl_states_timestamp_ntz_on_snowflake_only() -> None:
    from dk_sentinel.warehouse.schema import _typed

    class Fake:
        def __init__(self, backend: str) -> None:
            self.backend = backend

    ddl = "create table if not exists {ops}.t (at timestamp not null, current_timestamp_x int)"
    assert "at timestamp_ntz not null" in _typed(Fake("snowflake"), ddl)  # type: ignore[arg-type]
    assert "current_timestamp_x" in _typed(Fake("snowflake"), ddl)  # type: ignore[arg-type]
    assert _typed(Fake("duckdb"), ddl) == ddl  # type: ignore[arg-type]
    assert _typed(Fake("snowflake"), "select cast(x as timestamp)") == "select cast(x as timestamp)"  # type: ignore[arg-type]


def test_sign_in_modes_for_cron_and_for_people(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    oauth = connect_args(_snowflake(**{"warehouse.snowflake.authenticator": "oauth",
                                       "warehouse.snowflake.oauth_token_file": token}).warehouse)  # fmt: skip
    assert oauth["authenticator"] == "oauth" and oauth["token"] == "tok-123"
    sso = _snowflake(**{"warehouse.snowflake.authenticator": "externalbrowser"}).warehouse
    assert sign_in(sso)[1] is False  # not for cron
    with pytest.raises(ConfigError, match="SSO in a browser needs a person at a terminal"):
        connect_args(sso)  # pytest's stdin is no terminal: as under cron
    monkeypatch.setattr("dk_sentinel.warehouse.snowflake._at_a_terminal", lambda: True)
    assert connect_args(sso)["client_store_temporary_credential"] is True
    monkeypatch.delenv("SNOWFLAKE_OAUTH_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="SNOWFLAKE_OAUTH_TOKEN"):
        connect_args(_snowflake(**{"warehouse.snowflake.authenticator": "oauth"}).warehouse)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY", pem)
    key_pair = _snowflake(**{"warehouse.snowflake.authenticator": "key_pair"}).warehouse
    args = connect_args(key_pair)
    assert args["authenticator"] == "SNOWFLAKE_JWT" and isinstance(args["private_key"], bytes)
    assert sign_in(key_pair) == ("key_pair", True, sign_in(key_pair)[2])
    assert "private_key: \"{{ env_var('SNOWFLAKE_PRIVATE_KEY') }}\"" in profile_yaml(
        _snowflake(**{"warehouse.snowflake.authenticator": "key_pair"})
    )


def test_a_named_connection_of_connections_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "snowflake"
    home.mkdir()
    (home / "connections.toml").write_text(
        '[cron]\naccount = "ab12345"\nuser = "svc_cron"\nauthenticator = "SNOWFLAKE_JWT"\n'
        'private_key_file = "/etc/sentinel/rsa_key.p8"\nprivate_key_file_pwd = "s3cret"\n'
        'warehouse = "CRON_WH"\n', encoding="utf-8",
    )  # fmt: skip
    os.chmod(home / "connections.toml", 0o600)
    # the connector finds connections.toml when it is imported: a process of its own
    code = """
import json
from dk_sentinel.config import load_settings
from dk_sentinel.errors import ConfigError
from dk_sentinel.scoring.dbt import profile_yaml, secrets_env
from dk_sentinel.warehouse.snowflake import connect_args, sign_in
def settings(name):
    return load_settings(overrides={"warehouse.backend": "snowflake",
                                    "warehouse.snowflake.connection_name": name})
s = settings("cron")
args = connect_args(s.warehouse)
try:
    connect_args(settings("nope").warehouse)
    missing = None
except ConfigError as exc:
    missing = exc.message
print(json.dumps({"args": {k: v for k, v in args.items() if k != "private_key"},
                  "sign_in": sign_in(s.warehouse), "profile": profile_yaml(s),
                  "dbt_env": secrets_env(s), "missing": missing}))
"""
    env = {**os.environ, "SNOWFLAKE_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["args"]["connection_name"] == "cron" and "password" not in found["args"]
    assert found["args"]["session_parameters"]["TIMEZONE"] == "UTC"
    assert found["sign_in"][:2] == ["key_pair", True]
    assert 'account: "ab12345"' in found["profile"]
    assert 'private_key_path: "/etc/sentinel/rsa_key.p8"' in found["profile"]
    # dbt runs on the named connection's warehouse, with its key passphrase handed to dbt's
    # process in the environment (never written into profiles.yml)
    assert 'warehouse: "CRON_WH"' in found["profile"]
    assert "s3cret" not in found["profile"]
    assert found["dbt_env"] == {"SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "s3cret"}
    assert found["missing"] == "no Snowflake connection named 'nope' in connections.toml"


@pytest.mark.slow  # doctor parses the dbt project
def test_doctor_says_how_sentinel_signs_in_and_whether_cron_can(
    fakesnow_settings: Settings, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {"SENTINEL_WAREHOUSE__BACKEND": "snowflake",
                       "SENTINEL_WAREHOUSE__SNOWFLAKE__ACCOUNT": "fakesnow",
                       "SENTINEL_WAREHOUSE__SNOWFLAKE__USER": "tester"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    result = invoke(runner, "doctor", "--format", "json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["sign-in"]["ok"] is True
    assert checks["sign-in"]["detail"].startswith("password: password from $SNOWFLAKE_PASSWORD")
    monkeypatch.setenv("SENTINEL_WAREHOUSE__SNOWFLAKE__AUTHENTICATOR", "externalbrowser")
    result = invoke(runner, "doctor", "--format", "json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["sign-in"]["ok"] is False and "not for cron" in checks["sign-in"]["detail"]


def test_no_statement_binds_its_limit() -> None:
    """Some Snowflake versions refuse ``LIMIT ?``: limits are validated integer literals."""
    import re

    import dk_sentinel

    root = Path(dk_sentinel.__file__).parent
    bound = [
        str(path.relative_to(root))
        for path in [*root.rglob("*.py"), *root.rglob("*.sql")]
        if re.search(r"\blimit\s+\?", path.read_text(encoding="utf-8"), re.IGNORECASE)
    ]
    assert bound == []


def test_a_dead_pooled_connection_is_replaced_before_use(
    fakesnow_settings: Settings,
) -> None:
    from dk_sentinel.warehouse.pool import SnowflakePool

    pool = SnowflakePool(fakesnow_settings.warehouse, 2)
    with pool.connect() as first:
        assert first.query("select 1") == [(1,)]
    first.con.close()  # e.g. the session expired while the server was idle
    with pool.connect() as second:
        assert second is not first and second.query("select 2") == [(2,)]
    with pool.connect() as third:
        assert third is second  # a live one is reused
    pool.close()


class _ArrowCursor:
    """A connector cursor as the real one behaves for Arrow results (fakesnow has no Arrow
    fetch): upper-case names, one batch per result chunk with each chunk's integers in the
    narrowest type that holds them and timestamps in nanoseconds, and ``NotSupportedError``
    for a result sent as JSON."""

    def __init__(self, cursor: Any, json_result: bool) -> None:
        self._cursor, self._json = cursor, json_result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def fetch_arrow_batches(self) -> Any:
        import pyarrow as pa
        from snowflake.connector.errors import NotSupportedError

        if self._json:
            raise NotSupportedError("not an Arrow result")
        names = [d[0].upper() for d in self._cursor.description]
        batches = []
        for row in self._cursor.fetchall():  # a chunk per row
            columns = {}
            for name, value in zip(names, row, strict=True):
                if isinstance(value, int):
                    columns[name] = pa.array([value], pa.int8() if value < 128 else pa.int16())
                elif isinstance(value, datetime):
                    columns[name] = pa.array([value], pa.timestamp("ns"))
                else:
                    columns[name] = pa.array([value])
            batches.append(pa.table(columns))
        return iter(batches)


@pytest.mark.parametrize("json_result", [False, True])
def test_query_arrow_joins_the_connectors_arrow_batches_or_else_reads_its_rows(
    fakesnow_settings: Settings, json_result: bool
) -> None:
    """On Snowflake a run's snapshot is fetched as Arrow batches, joined whatever integer
    width each chunk came in, timestamps in microseconds; a JSON result falls back to rows."""
    with connect(fakesnow_settings) as wh:
        bootstrap(wh)
        wh.execute("create or replace table {ops}.arrow_sf (player_id varchar, score double, "
                   "bets bigint, last_bet_at timestamp)")  # fmt: skip
        wh.execute("insert into {ops}.arrow_sf values "
                   "('PLR_1111_NJ', 0.5, 7, '2026-11-01 10:00:00'), "
                   "('PLR_2222_NJ', 0.4, 300, '2026-11-01 11:30:00'), "
                   "('PLR_3333_NJ', 0.1, 1, '2026-11-01 12:00:00')")  # fmt: skip
        con = wh.con  # type: ignore[attr-defined]
        wrapped = mock.Mock(wraps=con)
        wrapped.cursor = lambda: _ArrowCursor(con.cursor(), json_result)
        wh.con = wrapped  # type: ignore[attr-defined]
        table = wh.query_arrow(
            "select * from {ops}.arrow_sf where score > ? order by player_id", [0.2]
        )
        empty = wh.query_arrow("select * from {ops}.arrow_sf where score > 1")
        wh.con = con  # type: ignore[attr-defined]
    assert table.column_names == ["player_id", "score", "bets", "last_bet_at"]
    assert table.to_pylist() == [
        {"player_id": "PLR_1111_NJ", "score": 0.5, "bets": 7,
         "last_bet_at": datetime(2026, 11, 1, 10, 0)},
        {"player_id": "PLR_2222_NJ", "score": 0.4, "bets": 300,
         "last_bet_at": datetime(2026, 11, 1, 11, 30)},
    ]  # fmt: skip
    if not json_result:
        assert str(table.schema.field("last_bet_at").type) == "timestamp[us]"
    assert empty.num_rows == 0 and empty.column_names == table.column_names


def test_oauth_client_credentials_get_a_token_for_sentinel_and_dbt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#38: sentinel asks the identity provider for a token (client credentials grant, the
    client's secret from the environment, HTTP Basic) and signs in with it, as dbt does (the
    token reaches dbt's environment, never its profile); a refusal is a one-line error."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    from dk_sentinel.scoring.dbt import secrets_env

    asked: list[dict[str, Any]] = []

    class Provider(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            client = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
            asked.append({"form": form, "client": client})
            good = client == "sentinel-svc:s3cret"
            self.send_response(200 if good else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"access_token": "at-42"} if good else {}).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = _snowflake(**{
            "warehouse.snowflake.authenticator": "oauth_client_credentials",
            "warehouse.snowflake.oauth_token_url": f"http://127.0.0.1:{server.server_port}/t",
            "warehouse.snowflake.oauth_client_id": "sentinel-svc",
            "warehouse.snowflake.oauth_scope": "session:role:RG_SCORER",
        })  # fmt: skip
        monkeypatch.delenv("SNOWFLAKE_OAUTH_CLIENT_SECRET", raising=False)
        with pytest.raises(ConfigError, match="SNOWFLAKE_OAUTH_CLIENT_SECRET"):
            connect_args(settings.warehouse)
        monkeypatch.setenv("SNOWFLAKE_OAUTH_CLIENT_SECRET", "s3cret")
        monkeypatch.setattr("dk_sentinel.warehouse.snowflake._TOKENS", {})
        args = connect_args(settings.warehouse)
        assert (args["authenticator"], args["token"]) == ("oauth", "at-42")
        connect_args(settings.warehouse)  # the token is reused while it is valid
        assert len(asked) == 1
        assert asked[-1]["form"] == {
            "grant_type": ["client_credentials"], "scope": ["session:role:RG_SCORER"]
        }  # fmt: skip
        assert sign_in(settings.warehouse)[1] is True  # unattended
        assert secrets_env(settings) == {"SNOWFLAKE_OAUTH_TOKEN": "at-42"}
        profile = profile_yaml(settings)
        assert "authenticator: oauth" in profile and "at-42" not in profile
        monkeypatch.setenv("SNOWFLAKE_OAUTH_CLIENT_SECRET", "wrong")
        monkeypatch.setattr("dk_sentinel.warehouse.snowflake._TOKENS", {})
        with pytest.raises(ConfigError, match=r"refused a token \(HTTP 401\)"):
            connect_args(settings.warehouse)
        plain = _snowflake(**{
            "warehouse.snowflake.authenticator": "oauth_client_credentials",
            "warehouse.snowflake.oauth_token_url": "http://idp.example.com/token",
            "warehouse.snowflake.oauth_client_id": "sentinel-svc",
        })  # fmt: skip
        with pytest.raises(ConfigError, match="must use https"):
            connect_args(plain.warehouse)
    finally:
        server.shutdown()
        server.server_close()


def test_workload_identity_signs_in_as_the_hosts_platform() -> None:
    """#38: no secret at all: the connector and dbt sign in with the platform's identity."""
    settings = _snowflake(**{"warehouse.snowflake.authenticator": "workload_identity"})
    with pytest.raises(ConfigError, match="workload_identity_provider"):
        connect_args(settings.warehouse)
    settings = _snowflake(**{"warehouse.snowflake.authenticator": "workload_identity",
                             "warehouse.snowflake.workload_identity_provider": "AWS"})  # fmt: skip
    args = connect_args(settings.warehouse)
    assert args["authenticator"] == "WORKLOAD_IDENTITY"
    assert args["workload_identity_provider"] == "AWS"
    assert "password" not in args and "token" not in args
    profile = profile_yaml(settings)
    assert "authenticator: workload_identity" in profile
    assert 'workload_identity_provider: "AWS"' in profile
