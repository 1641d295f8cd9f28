"""Shared fixtures: an isolated environment for every test, and a scored demo warehouse."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from typer.testing import CliRunner

from dk_sentinel.cli.main import app
from dk_sentinel.config import Settings, load_settings

AS_OF = datetime(2026, 11, 1)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads a developer's config, keys or caches; every test runs in its own folder."""
    for name in list(os.environ):
        if name.startswith(("SENTINEL_", "ANTHROPIC_", "SNOWFLAKE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, **kwargs: Any) -> Any:
    """Run the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    return runner.invoke(app, list(args), **kwargs)


@pytest.fixture
def db_settings(tmp_path: Path) -> Settings:
    """Settings for an empty embedded warehouse in the test's folder."""
    return load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})


@pytest.fixture(scope="session")
def scored_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Generate, ingest and score 1,500 synthetic players once per session (dbt runs once)."""
    from dk_sentinel.ingest import ingest
    from dk_sentinel.scoring import score_batch
    from dk_sentinel.synthetic.generator import generate
    from dk_sentinel.warehouse import connect
    from dk_sentinel.warehouse.schema import bootstrap

    root = tmp_path_factory.mktemp("scored")
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME",)}
    os.environ["XDG_CACHE_HOME"] = str(root / ".cache")
    try:
        gen = generate(root / "data", players=1500, days=90, seed=11, as_of=AS_OF)
        settings = load_settings(overrides={"warehouse.duckdb.path": root / "w.duckdb"})
        with connect(settings) as wh:
            bootstrap(wh)
            for kind in ("bets", "assessments", "outcomes"):
                ingest(wh, kind, [gen.files[kind]])  # type: ignore[arg-type]
        score_batch(settings, as_of=AS_OF)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield {"db": root / "w.duckdb", "labels": root / "data" / "labels.csv", "data": root / "data"}


@pytest.fixture
def scored(scored_source: dict[str, Path], tmp_path: Path) -> Settings:
    """A private copy of the scored warehouse (tests may write to it)."""
    target = tmp_path / "scored.duckdb"
    shutil.copy(scored_source["db"], target)
    return load_settings(overrides={"warehouse.duckdb.path": target})


#: The replayed warehouse's past as-of: its 14-day label window closes before the data ends.
REPLAY_AS_OF = AS_OF - timedelta(days=15)


@pytest.fixture(scope="session")
def replayed_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """1,500 players of every family with outcomes, payments and account events: a live run at
    AS_OF, a replay 15 days back."""
    from dk_sentinel.ingest import ingest
    from dk_sentinel.scoring import score_batch
    from dk_sentinel.synthetic.generator import generate
    from dk_sentinel.warehouse import connect
    from dk_sentinel.warehouse.schema import bootstrap

    root = tmp_path_factory.mktemp("replayed")
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root / ".cache")
    try:
        gen = generate(root / "data", players=1500, days=90, seed=5, as_of=AS_OF, families="all")
        settings = load_settings(overrides={"warehouse.duckdb.path": root / "w.duckdb"})
        with connect(settings) as wh:
            bootstrap(wh)
            for kind in ("bets", "assessments", "outcomes", "payments", "account_events"):
                ingest(wh, kind, [gen.files[kind]])  # type: ignore[arg-type]
        assert score_batch(settings, as_of=AS_OF).status == "success"
        assert score_batch(settings, as_of=REPLAY_AS_OF, kind="replay").status == "success"
    finally:
        if saved is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved
    yield root / "w.duckdb"


@pytest.fixture
def replayed(replayed_source: Path, tmp_path: Path) -> Settings:
    """A private copy of the replayed warehouse (14-day horizon, 10 positives are enough)."""
    target = tmp_path / "replayed.duckdb"
    shutil.copy(replayed_source, target)
    return load_settings(
        overrides={
            "warehouse.duckdb.path": target,
            "outcomes.horizon_days": 14,
            "outcomes.min_positives": 10,
        }
    )


@pytest.fixture
def top_player(scored: Settings) -> str:
    from dk_sentinel.analysis.assessment import build_queue
    from dk_sentinel.warehouse import connect

    with connect(scored) as wh:
        return build_queue(wh, min_category="CRITICAL", limit=1).items[0].player_id


# ---- Snowflake emulated by fakesnow ---------------------------------------------------------


FAKESNOW = {
    "warehouse.backend": "snowflake",
    "warehouse.snowflake.account": "fakesnow",
    "warehouse.snowflake.user": "tester",
}


@pytest.fixture
def fakesnow_settings() -> Iterator[Settings]:
    """Settings for the snowflake backend, with the connector patched in-process by fakesnow."""
    import fakesnow

    with fakesnow.patch():
        os.environ["SNOWFLAKE_PASSWORD"] = "fake-password"
        yield load_settings(overrides=FAKESNOW)


@pytest.fixture(scope="session")
def fakesnow_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fakesnow's database files with the current schema, bootstrapped once per session:
    translating the schema's statements costs the emulator about 1.5 s each time."""
    import fakesnow

    from dk_sentinel.warehouse import connect
    from dk_sentinel.warehouse.schema import bootstrap

    template = tmp_path_factory.mktemp("fakesnow-schema")
    with fakesnow.patch(db_path=template):
        os.environ["SNOWFLAKE_PASSWORD"] = "fake-password"
        with connect(load_settings(overrides=FAKESNOW)) as wh:
            bootstrap(wh)
    return template


@pytest.fixture
def fakesnow_bootstrapped(fakesnow_schema: Path, tmp_path: Path) -> Iterator[Settings]:
    """Like ``fakesnow_settings``, on a copy of a warehouse that already has the schema."""
    import shutil

    import fakesnow

    files = shutil.copytree(fakesnow_schema, tmp_path / "fakesnow")
    with fakesnow.patch(db_path=files):
        os.environ["SNOWFLAKE_PASSWORD"] = "fake-password"
        yield load_settings(overrides=FAKESNOW)


def _fakesnow_server() -> Any:
    """fakesnow's ``server()``, kept once: importing the ``fakesnow.server`` module (the
    fixture does) rebinds the package attribute of that name to the module."""
    global _SERVE
    if _SERVE is None:
        import fakesnow

        _SERVE = fakesnow.server
    return _SERVE


_SERVE: Any = None


@pytest.fixture
def fakesnow_server_settings() -> Iterator[Settings]:
    """A fakesnow *server* (for dbt-snowflake in a child process) plus the in-process connector
    pointed at the same in-memory databases (fakesnow's server cannot take PUT uploads)."""
    import fakesnow

    serve = _fakesnow_server()
    with serve() as kw:
        server_module = sys.modules["fakesnow.server"]

        def connect(**args: Any) -> Any:
            return server_module.shared_fs.connect(
                args.pop("database", None),
                args.pop("schema", None),
                paramstyle=args.get("paramstyle"),
            )

        os.environ["SNOWFLAKE_PASSWORD"] = kw["password"]
        settings = load_settings(
            overrides={
                "warehouse.backend": "snowflake",
                "warehouse.snowflake.account": kw["account"],
                "warehouse.snowflake.user": kw["user"],
                "warehouse.snowflake.host": kw["host"],
                "warehouse.snowflake.port": kw["port"],
                "warehouse.snowflake.protocol": "http",
                "warehouse.snowflake.emulator": True,
                # the server's databases live as long as the process: one per test
                "warehouse.snowflake.database": f"SENTINEL_{uuid.uuid4().hex[:8].upper()}",
            }
        )
        import fakesnow.fakes

        with (
            mock.patch("snowflake.connector.connect", connect),
            mock.patch(
                "snowflake.connector.pandas_tools.write_pandas", fakesnow.fakes.write_pandas
            ),
        ):
            yield settings


@pytest.fixture
def snowflake_live_settings() -> Iterator[Settings]:
    """A real Snowflake account (issue #25), only when ``SENTINEL_SNOWFLAKE_LIVE=1``.

    The account, user, sign-in, database and warehouse come from the usual settings
    (``SENTINEL_WAREHOUSE__SNOWFLAKE__*``, ``sentinel.toml``, secrets from the environment);
    the tests use schemas of their own (``T<random>_RAW/OPS/ANALYTICS``), dropped afterwards.
    """
    if os.environ.get("SENTINEL_SNOWFLAKE_LIVE") != "1":
        pytest.skip("no live Snowflake account: set SENTINEL_SNOWFLAKE_LIVE=1 and credentials")
    token = f"T{uuid.uuid4().hex[:8].upper()}"
    settings = load_settings(
        overrides={
            "warehouse.backend": "snowflake",
            "warehouse.schemas.raw": f"{token}_RAW",
            "warehouse.schemas.ops": f"{token}_OPS",
            "warehouse.schemas.analytics": f"{token}_ANALYTICS",
        }
    )
    try:
        yield settings
    finally:
        from dk_sentinel.warehouse import connect

        with connect(settings) as wh:
            for schema in ("{raw}", "{ops}", "{analytics}"):
                wh.execute(f"drop schema if exists {schema} cascade")


# ---- the fast inner loop ---------------------------------------------------------------------

#: Fixtures that run dbt (a whole build costs seconds): a test using one is `slow`.
DBT_FIXTURES = frozenset(
    {"scored", "scored_source", "top_player", "fakesnow_server_settings", "replayed",
     "replayed_source"}
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs a dbt run as slow (`pytest -m "not slow"` skips them)."""
    for item in items:
        if DBT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.snowflake)])
def scoring_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A warehouse that dbt can score: the embedded file, or fakesnow's server (marked)."""
    if request.param == "snowflake":
        return request.getfixturevalue("fakesnow_server_settings")  # type: ignore[no-any-return]
    return load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
