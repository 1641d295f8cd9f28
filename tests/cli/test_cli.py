"""The CLI foundation: version, help, init, doctor, config show, error mapping."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from conftest import invoke
from dk_sentinel import __version__
from dk_sentinel.cli.context import state
from dk_sentinel.cli.main import app
from dk_sentinel.config import Settings
from dk_sentinel.errors import (
    BusyError,
    ConfigError,
    ExitCode,
    NotFoundError,
    PartialFailure,
    SentinelError,
    UsageError,
    WarehouseUnavailable,
)
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.schema import SCHEMA_VERSION


def test_version(runner) -> None:
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sentinel {__version__}"


def test_help_lists_commands_with_one_line_help(runner) -> None:
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for command in ("init", "doctor", "config", "ingest", "generate", "score-batch", "runs",
                    "analyze", "queue", "intervene", "interventions", "export", "report", "schema", "demo"):  # fmt: skip
        assert f"  {command} " in result.stdout, command


def loaded_by(args: list[str], watched: tuple[str, ...]) -> tuple[object, list[str]]:
    """Run ``sentinel ARGS`` in a fresh interpreter; return its exit code and which of the
    watched modules it imported."""
    code = (
        "import json, sys\n"
        "from dk_sentinel.cli.main import app\n"
        "code = None\n"
        f"try:\n    app({args!r}, prog_name='sentinel')\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        f"loaded = [m for m in {watched!r} if m in sys.modules]\n"
        "print(json.dumps([code, loaded]), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    exit_code, loaded = json.loads(result.stderr.strip().splitlines()[-1])
    return exit_code, loaded


def test_help_does_not_import_heavy_modules() -> None:
    heavy = ("dbt", "anthropic", "snowflake.connector", "fakesnow", "pandas", "pyarrow")
    _, loaded = loaded_by(["--help"], heavy)
    assert loaded == []


def test_everyday_commands_import_only_what_they_need(
    scored: Settings, top_player: str, tmp_path: Path
) -> None:
    """The hourly cron with nothing to do, an analyst's lookup and a routine load import none
    of the libraries they do not use (each costs 0.1-3 s of start-up on every call)."""
    csv_file = tmp_path / "bets.csv"
    csv_file.write_text(
        "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,"
        "status\nZ1,PLR_1234_MA,2026-01-01T10:00:00,,NFL,spread,false,1.91,10,,pending\n",
        encoding="utf-8",
    )
    db = str(scored.warehouse.duckdb.path)
    cases = [  # in this order: the load comes last, so score-batch has nothing new to score
        (["-q", "score-batch"], ("rich", "dbt", "pandas", "pyarrow")),
        (["analyze", top_player, "-f", "json"], ("rich", "dbt", "pandas", "pyarrow")),
        (["-q", "ingest", "bets", str(csv_file), "-f", "json"], ("dbt", "pandas", "pyarrow")),
    ]
    for args, banned in cases:
        exit_code, loaded = loaded_by(["--db", db, *args], banned)
        assert exit_code == 0, args
        assert loaded == [], args


def test_production_paths_never_import_the_generator_or_its_evaluation() -> None:
    """Issue #24: evaluation.py (and through it synth, so NumPy) sat on the import path of every
    use case; the backtest and calibration need only the ranking metric."""
    code = (
        "import sys\n"
        "import dk_sentinel.usecases, dk_sentinel.outcomes.backtest, dk_sentinel.outcomes.calibration\n"
        "import dk_sentinel.server, dk_sentinel.analysis.reporting\n"
        "print([m for m in ('dk_sentinel.synthetic.evaluation', 'dk_sentinel.synthetic.generator', 'numpy') "
        "if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_library_never_imports_typer_or_rich() -> None:
    code = (
        "import sys\n"
        "import dk_sentinel.analysis.assessment, dk_sentinel.ingest, dk_sentinel.scoring, dk_sentinel.analysis.explainer\n"
        "import dk_sentinel.interventions.records, dk_sentinel.analysis.reporting, dk_sentinel.synthetic.generator, dk_sentinel.usecases\n"
        "import dk_sentinel.doctor, dk_sentinel.warehouse.schema\n"
        "print(','.join(m for m in ('typer', 'rich', 'click') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.slow  # doctor parses the dbt project
def test_init_twice_then_doctor(runner) -> None:
    first = invoke(runner, "init")
    assert first.exit_code == 0
    assert f"Schema migrated from version 0 to {SCHEMA_VERSION}" in first.stderr
    second = invoke(runner, "init")
    assert second.exit_code == 0
    assert f"Schema is up to date (version {SCHEMA_VERSION})" in second.stderr
    doctor = invoke(runner, "doctor", "--format", "json")
    assert doctor.exit_code == 0, doctor.stderr
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["schema"]["ok"] and checks["warehouse"]["ok"] and checks["dbt project"]["ok"]
    assert checks["anthropic key"]["required"] is False
    assert "ANTHROPIC_API_KEY not set" in checks["anthropic key"]["detail"]
    assert checks["trigger packs"]["ok"] and "NJ: nj" in checks["trigger packs"]["detail"]
    broken = invoke(
        runner, "doctor", "--format", "json", env={"SENTINEL_JURISDICTIONS__DEFAULT_PACK": "mars"}
    )
    packs = {c["name"]: c for c in json.loads(broken.stdout)["checks"]}["trigger packs"]
    assert (
        broken.exit_code != 0
        and not packs["ok"]
        and "no trigger pack named 'mars'" in packs["detail"]
    )


@pytest.mark.slow  # doctor parses the dbt project
def test_doctor_fails_before_init(runner) -> None:
    result = invoke(runner, "doctor")  # no warehouse file: refused, and none created
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert "sentinel init" in result.stderr and result.stdout == ""


def test_a_mistyped_warehouse_path_is_exit_69_and_creates_nothing(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #24: `--db typo.duckdb queue` used to create an empty warehouse and say "The queue
    is empty" (exit 0), which an analyst reads as "nobody at risk"."""
    typo = tmp_path / "sentinal.duckdb"
    for command in (["queue"], ["analyze", "PLR_1234_MA"], ["runs"], ["ingest", "bets", "x"],
                    ["doctor"]):  # fmt: skip
        result = invoke(runner, "--db", str(typo), *command)
        assert result.exit_code == ExitCode.UNAVAILABLE, (command, result.stderr)
        assert f"no warehouse at {typo}" in result.stderr and "sentinel init" in result.stderr
    assert not typo.exists()
    # init creates it; $SENTINEL_DB is the same setting as --db
    monkeypatch.setenv("SENTINEL_DB", str(typo))
    assert invoke(runner, "init").exit_code == 0 and typo.exists()
    queue = invoke(runner, "queue", "--format", "json")  # never scored: no queue, not empty
    assert queue.exit_code == ExitCode.DATA and queue.stdout == ""
    assert "no scores yet" in queue.stderr and "sentinel score-batch" in queue.stderr


def test_doctor_with_bad_weights_exits_78(runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_SCORING__WEIGHTS__LOSS_CHASE", "0.9")
    result = invoke(runner, "doctor")
    assert result.exit_code == 78
    assert "the weights must sum to 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_json_with_sources(runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_AI__MAX_TOKENS", "500")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-very-secret")
    result = invoke(runner, "--db", "x.duckdb", "config", "show", "--format", "json")
    assert result.exit_code == 0
    rows = {r["key"]: r for r in json.loads(result.stdout)["settings"]}
    assert rows["ai.max_tokens"] == {
        "key": "ai.max_tokens",
        "value": 500,
        "source": "env SENTINEL_AI__MAX_TOKENS",
    }
    assert rows["warehouse.duckdb.path"]["source"] == "cli"
    assert rows["secrets.anthropic_api_key"]["value"] == "***set***"
    assert "sk-very-secret" not in result.stdout


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("bad"), 2),
        (NotFoundError("missing"), 3),
        (PartialFailure("some rejected"), 4),
        (WarehouseUnavailable("down"), 69),
        (BusyError("locked"), 75),
        (ConfigError("wrong"), 78),
        (SentinelError("internal"), 1),
    ],
)
def test_errors_map_to_exit_codes_with_one_line_and_hint(
    runner, error: SentinelError, code: int
) -> None:
    sub = typer.Typer()

    @sub.command("boom")
    def boom() -> None:
        raise error

    app.add_typer(sub, name="testing-boom")
    try:
        result = invoke(runner, "testing-boom", "boom")
    finally:
        app.registered_groups.pop()
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"Error: {error.message}"
    assert "Traceback" not in result.stderr


def test_unexpected_error_is_one_line_without_debug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = (
        "import typer\nfrom dk_sentinel.cli.main import app\nsub = typer.Typer()\n"
        "@sub.command('x')\ndef x() -> None:\n    raise ValueError('secret_local=hunter2 oops')\n"
        "app.add_typer(sub, name='crash')\napp(['crash', 'x'], prog_name='sentinel')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTEST_CURRENT_TEST"}
    plain = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert plain.returncode == 1
    assert "Internal error: ValueError" in plain.stderr and "Traceback" not in plain.stderr
    assert "SENTINEL_DEBUG=1" in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**env, "SENTINEL_DEBUG": "1"},
    )
    assert "Traceback" in debug.stderr


def test_state_is_created_lazily() -> None:
    ctx = typer.Context(typer.main.get_command(app))
    assert state(ctx).config is None


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dk_sentinel", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("sentinel ")


def test_error_text_is_plain_not_markup(runner, tmp_path) -> None:
    """A glob's brackets reach the user whole (Rich markup would eat '[ab]')."""
    assert invoke(runner, "init").exit_code == 0
    result = invoke(runner, "ingest", "bets", str(tmp_path / "bets_[ab].csv"))
    assert result.exit_code == 2
    assert "bets_[ab].csv" in result.stderr


def test_jobs_on_a_warehouse_of_an_older_release_say_run_init(
    runner, db_settings, tmp_path
) -> None:
    """A warehouse migrated by an older release has no job leases: one clear line, exit 69."""
    db = str(db_settings.warehouse.duckdb.path)
    assert invoke(runner, "--db", db, "init").exit_code == 0
    with connect(db_settings) as wh:
        wh.execute("drop table {ops}.job_leases")
        wh.execute("delete from {ops}.schema_migrations where version >= 5")
    bets = tmp_path / "bets.csv"
    bets.write_text(
        "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,"
        "status\nB1,PLR_1234_MA,2026-11-01 10:00:00,,NBA,spread,true,2.0,25.00,,pending\n"
    )
    for args in (["score-batch"], ["ingest", "bets", str(bets)]):
        result = invoke(runner, "--db", db, *args)
        assert result.exit_code == 69, (args, result.stderr)
        assert result.stderr.splitlines()[0].startswith(
            "Error: the warehouse schema is at version 4"
        )
        assert "sentinel init" in result.stderr and "Catalog Error" not in result.stderr
