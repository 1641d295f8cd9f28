"""What a new user trips over (issue #37): every README command line parses, flags go where a
user puts them, a schema-less or unscored warehouse is never "empty", the cron monitor's check."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import duckdb
import pytest

from conftest import invoke
from dk_sentinel.errors import ExitCode

README = Path(__file__).parents[2] / "README.md"


def _readme_command_lines() -> list[str]:
    """Every `sentinel …` invocation in the README's code blocks and inline code spans,
    comments included (cron lines)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|console|text)?\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    blocks += [span for span in re.findall(r"`([^`\n]+)`", prose) if "sentinel " in span]
    found: list[str] = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            for match in re.finditer(r"(?<![\w./$-])sentinel(?= )", line):
                command = line[match.start() :].split("`")[0]  # prose quoting a command ends
                found.append(" ".join(_command_words(command)))
    return found


def _command_words(text: str) -> list[str]:
    """The words of one shell command: up to a comment, a pipe, a redirect or a separator."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    for token in lexer:
        if token and set(token) <= set("|&;<>()"):
            break
        words.append(shlex.quote(token) if " " in token else token)
    return words


COMMANDS = _readme_command_lines()


def test_the_readme_has_the_command_lines_it_promises() -> None:
    assert len(COMMANDS) >= 40
    assert "sentinel deliver --quiet" in COMMANDS  # the cron lines are read too
    assert "sentinel score-batch --quiet" in COMMANDS


@pytest.mark.parametrize("line", COMMANDS)
def test_every_readme_command_line_parses(runner, line: str, tmp_path: Path) -> None:
    """Each line with --help appended: a misspelt command or option is exit 2 (usage)."""
    words = shlex.split(line.replace("$SENTINEL_DB", str(tmp_path / "w.duckdb")))[1:]
    result = invoke(runner, *words, "--help")
    assert result.exit_code == 0, f"{line!r}: {result.stderr or result.stdout}"


@pytest.mark.parametrize("flag", ["--quiet", "-q", "--verbose", "-v"])
def test_global_flags_are_accepted_after_the_command(runner, flag: str, tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    assert invoke(runner, "--db", db, "init", flag).exit_code == 0
    shown = invoke(runner, "config", "show", flag, "--format", "json")
    assert shown.exit_code == 0 and shown.stdout.startswith("{")


def test_quiet_after_the_command_silences_info(runner, tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    loud = invoke(runner, "--db", db, "init")
    quiet = invoke(runner, "--db", db, "init", "--quiet")
    assert "Schema" in loud.stderr and quiet.stderr == ""


@pytest.mark.parametrize(
    "command", [["report"], ["cases", "list"], ["interventions", "list"], ["runs"]]
)
def test_a_schema_less_file_is_one_line_and_a_hint(
    runner, command: list[str], tmp_path: Path
) -> None:
    """A DuckDB file that is not a sentinel warehouse: one error line naming `sentinel init`,
    exit 69, never the database's multi-line catalog error."""
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    result = invoke(runner, "--db", str(path), *command)
    assert result.exit_code == ExitCode.UNAVAILABLE, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("Error:") and "LINE 1" not in result.stderr
    assert len(lines) == 2 and lines[1].startswith("Hint:") and "sentinel init" in lines[1]


@pytest.mark.slow  # doctor parses the dbt project
def test_doctor_max_age_is_the_cron_monitors_check(runner, tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    assert invoke(runner, "--db", db, "init").exit_code == 0
    never = invoke(runner, "--db", db, "doctor", "--max-age", "2h", "--format", "json")
    assert never.exit_code == ExitCode.UNAVAILABLE
    assert "no successful scoring run yet" in never.stdout
    plain = invoke(runner, "--db", db, "doctor", "--format", "json")
    assert "last run" not in plain.stdout  # only asked for with --max-age
    bad = invoke(runner, "--db", db, "doctor", "--max-age", "soon")
    assert bad.exit_code == ExitCode.USAGE and "30m, 2h or 1d" in bad.stderr


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("SENTINEL_FOO", None),
     ("SENTINEL_SCORNG__WEIGHTS__LOSS_CHASE", "SENTINEL_SCORING__WEIGHTS__LOSS_CHASE")],
)  # fmt: skip
def test_an_unknown_sentinel_variable_is_exit_78_with_a_suggestion(
    runner, monkeypatch: pytest.MonkeyPatch, name: str, suggestion: str | None
) -> None:
    monkeypatch.setenv(name, "0.3")
    result = invoke(runner, "config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert f"unknown setting in the environment: {name}" in result.stderr
    if suggestion:
        assert f"did you mean {suggestion}?" in result.stderr
    assert "SENTINEL_IGNORE_ENV" in result.stderr
    monkeypatch.setenv("SENTINEL_IGNORE_ENV", f"SENTINEL_OTHER,{name}")  # the documented escape
    assert invoke(runner, "config", "show").exit_code == 0


def test_a_body_over_the_limit_is_413_before_it_is_read(db_settings, tmp_path: Path) -> None:
    """A 10 MB JSON body is refused with problem+json 413, whether its length is declared or it
    arrives in chunks; a body under the limit still reaches validation (401 without a key)."""
    from fastapi.testclient import TestClient

    from dk_sentinel.config import load_settings
    from dk_sentinel.server import create_app
    from dk_sentinel.usecases import Sentinel

    Sentinel(db_settings).system.initialise()
    settings = load_settings(overrides={"warehouse.duckdb.path": db_settings.warehouse.duckdb.path,
                                        "api.max_body_bytes": 4096})  # fmt: skip
    with TestClient(create_app(settings)) as client:
        big = b'{"reason": "' + b"x" * 10_000_000 + b'"}'
        declared = client.post("/api/interventions", content=big,
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        assert declared.json()["error"] == "PayloadTooLarge"

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(100):
                yield b"x" * 1000

        streamed = client.post("/api/interventions", content=chunks(),
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert streamed.status_code == 413
        small = client.post("/api/interventions", json={"reason": "fine"})
        assert small.status_code == 401


def test_tables_written_to_a_file_keep_ids_whole(runner, tmp_path: Path) -> None:
    """A wide table piped to a file is as wide as it needs: no id, code or name cut in two."""
    shown = invoke(runner, "config", "show")
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    for key in ("scoring.money_points_per_deposit_after_loss", "api.served_refresh_seconds",
                "jurisdictions.default_pack"):  # fmt: skip
        assert any(key in line for line in lines), key


@pytest.mark.slow  # a pytest in a child process
def test_collecting_the_schema_tests_writes_nothing_outside_temporary_folders(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    tests = Path(__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--no-cov", "--rootdir", str(tests.parent), str(tests / "api" / "test_api_schema.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp_path.glob("*.duckdb*")) == []  # (hypothesis keeps its own .hypothesis)


def test_an_undeclared_query_parameter_is_422(db_settings) -> None:
    from fastapi.testclient import TestClient

    from dk_sentinel.server import create_app
    from dk_sentinel.usecases import Sentinel

    app = Sentinel(db_settings)
    app.system.initialise()
    key = app.keys.create("viewer01", "viewer").api_key
    with TestClient(create_app(db_settings)) as client:
        bad = client.get("/api/interventions", params={"since": "notadate"},
                         headers={"X-API-Key": key})  # fmt: skip
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "unknown query parameter since" in bad.json()["detail"]
        good = client.get("/api/interventions", params={"limit": 5}, headers={"X-API-Key": key})
        assert good.status_code == 200


def test_backtest_with_nothing_to_measure_says_so(runner, tmp_path: Path) -> None:
    db = str(tmp_path / "w.duckdb")
    assert invoke(runner, "--db", db, "init").exit_code == 0
    result = invoke(runner, "--db", db, "backtest")
    assert result.exit_code == ExitCode.DATA and result.stdout == ""
    assert "nothing can be measured yet" in result.stderr and "--replay" in result.stderr


def test_schema_case_is_published(runner) -> None:
    import json

    result = invoke(runner, "schema", "Case")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Case"
    assert {"case_id", "triggers", "due_at", "triggered_at", "locks_player"} <= set(
        schema["properties"]
    )


def test_ingest_dry_run_counts_and_writes_nothing(runner, tmp_path: Path) -> None:
    import json

    db = str(tmp_path / "w.duckdb")
    assert invoke(runner, "--db", db, "init").exit_code == 0
    bets = tmp_path / "bets.csv"
    bets.write_text(
        "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,status\n"
        "B1,PLR_1234_NJ,2026-11-01T10:00:00Z,2026-11-01T12:00:00Z,NFL,spread,false,1.9,10,0,lost\n"
        "B2,PLR_1234_NJ,2026-11-01T11:00:00Z,,NFL,spread,false,1.9,-5,,pending\n",
        encoding="utf-8",
    )
    dry = invoke(runner, "--db", db, "ingest", "bets", str(bets), "--dry-run", "--format", "json")
    assert dry.exit_code == 4  # a rejected row, as a real load would say
    counted = json.loads(dry.stdout)
    assert counted["dry_run"] and (counted["accepted"], counted["rejected"]) == (1, 1)
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("select count(*) from raw.bets").fetchall() == [(0,)]
        assert con.execute("select count(*) from ops.ingest_rejects").fetchall() == [(0,)]
        assert con.execute("select count(*) from ops.ingest_loads").fetchall() == [(0,)]
    real = invoke(runner, "--db", db, "ingest", "bets", str(bets), "--format", "json")
    assert json.loads(real.stdout)["accepted"] == 1


def test_the_api_docs_are_served_from_the_package(db_settings) -> None:
    from fastapi.testclient import TestClient

    from dk_sentinel.server import create_app

    with TestClient(create_app(db_settings)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "/docs/static/swagger-ui-bundle.js" in page.text
        script = client.get("/docs/static/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
        assert client.get("/docs/static/swagger-ui.css").status_code == 200


def test_api_keys_expire_and_rotate_with_a_grace_period(runner, tmp_path: Path) -> None:
    import json
    from datetime import datetime, timedelta

    from dk_sentinel.config import load_settings
    from dk_sentinel.usecases import Sentinel

    settings = load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
    start = datetime(2026, 11, 1, 9, 0)
    app = Sentinel(settings, clock=lambda: start)
    app.system.initialise()
    short = app.keys.create("ana01", "analyst", expires_in="12h")
    assert short.expires_at == start + timedelta(hours=12)
    later = Sentinel(settings, clock=lambda: start + timedelta(hours=13))
    assert later.keys.authenticate(short.api_key) is None  # expired
    old = app.keys.create("ana02", "viewer")
    new = app.keys.rotate(old.key_id, grace="1h")
    assert (new.analyst_id, new.role) == ("ana02", "viewer") and new.key_id != old.key_id
    soon = Sentinel(settings, clock=lambda: start + timedelta(minutes=30))
    assert soon.keys.authenticate(old.api_key) is not None  # the grace period
    after = Sentinel(settings, clock=lambda: start + timedelta(hours=2))
    assert after.keys.authenticate(old.api_key) is None
    assert after.keys.authenticate(new.api_key) is not None
    db = str(tmp_path / "w.duckdb")
    listed = invoke(runner, "--db", db, "api-keys", "list", "--format", "json")
    assert {k["key_id"] for k in json.loads(listed.stdout) if k["expires_at"]} == {
        short.key_id, old.key_id
    }  # fmt: skip
    bad = invoke(runner, "--db", db, "api-keys", "create", "--analyst", "ana03",
                 "--expires-in", "forever")  # fmt: skip
    assert bad.exit_code == ExitCode.USAGE and "90d" in bad.stderr


def test_a_wrong_method_is_405_with_allow(db_settings) -> None:
    from fastapi.testclient import TestClient

    from dk_sentinel.server import create_app

    with TestClient(create_app(db_settings)) as client:
        wrong = client.delete("/api/queue")
        assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
        assert wrong.headers["content-type"].startswith("application/problem+json")
        # a resource served by two routes names both methods (Starlette names the first only)
        both = client.options("/api/interventions")
        assert both.status_code == 405 and both.headers["allow"] == "GET, POST"


def test_json_and_csv_timestamps_are_rfc3339_utc_at_whole_seconds(runner, tmp_path: Path) -> None:
    import json

    db = str(tmp_path / "w.duckdb")
    assert invoke(runner, "--db", db, "init").exit_code == 0
    assert invoke(runner, "--db", db, "api-keys", "create", "--analyst", "ana01").exit_code == 0
    (key,) = json.loads(invoke(runner, "--db", db, "api-keys", "list", "--format", "json").stdout)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", key["created_at"])
    table = invoke(runner, "--db", db, "api-keys", "list").stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", table)
    from datetime import datetime

    from dk_sentinel.analysis.reporting import _cell

    assert _cell(datetime(2026, 12, 7, 15, 9, 8, 649440)) == "2026-12-07T15:09:08Z"
    assert _cell({"a": 1}) == '{"a": 1}'


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--db", "w.duckdb", "-q", "analyze", "PLR_1234_MA"], "analyze"),
        (["-c", "s.toml", "cases", "list"], "cases"),
        (["--config", "analyze", "queue"], "queue"),  # a value is never the command
        (["--version"], None),
        (["--", "queue"], None),
        ([], None),
    ],
)
def test_the_console_script_finds_the_command_it_runs(argv: list[str], expected: str) -> None:
    from dk_sentinel.cli.main import invoked_command

    assert invoked_command(argv) == expected


def test_the_console_script_builds_only_the_command_it_runs() -> None:
    import typer

    from dk_sentinel.cli.main import only_command

    def build() -> typer.Typer:
        app = typer.Typer()
        app.command()(lambda: None)  # a nameless callback is named after its function
        app.command("analyze")(lambda: None)
        app.command("score-batch")(lambda: None)
        app.add_typer(typer.Typer(), name="cases")
        return app

    app = build()
    only_command(app, "cases")
    assert [g.name for g in app.registered_groups] == ["cases"]
    assert app.registered_commands == []
    app = build()
    only_command(app, "score-batch")
    assert [c.name for c in app.registered_commands] == ["score-batch"]
    app = build()
    only_command(app, "analyz")  # a typo keeps every command, for "did you mean"
    assert len(app.registered_commands) == 3
    assert len(app.registered_groups) == 1


def test_a_typo_in_a_console_script_command_suggests_the_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "dk_sentinel", "analyz", "PLR_1234_MA"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert "Did you mean 'analyze'?" in run.stderr
    help_run = subprocess.run(
        [sys.executable, "-m", "dk_sentinel", "--db", "x.duckdb", "cases", "--help"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert help_run.returncode == 0
    assert "contest" in help_run.stdout


def test_every_list_of_the_api_pages_by_limit_and_cursor(db_settings) -> None:
    """Issue #40: one paging style. Runs, interventions, the queue and cases take ``limit``
    and ``cursor`` and answer ``items`` and ``next_cursor`` (None on the last page)."""
    from datetime import datetime, timedelta

    from fastapi.testclient import TestClient

    from dk_sentinel.server import create_app
    from dk_sentinel.usecases import Sentinel

    app = Sentinel(db_settings)
    app.system.initialise()
    key = app.keys.create("admin01", "admin").api_key
    with app.connect() as wh:
        for n in range(5):
            at = datetime(2026, 11, 1) + timedelta(hours=n)
            wh.execute(
                "insert into {ops}.scoring_runs (run_id, status, kind, started_at, as_of) "
                "values (?, 'success', 'live', ?, ?)",
                [f"R{n}", at, at],
            )
    with TestClient(create_app(db_settings)) as client:
        seen, cursor = [], None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            body = client.get("/api/runs", params=params, headers={"X-API-Key": key}).json()
            seen.append([r["run_id"] for r in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == [["R4", "R3"], ["R2", "R1"], ["R0"]]
        for path in ("/api/interventions", "/api/cases"):
            body = client.get(path, params={"limit": 1}, headers={"X-API-Key": key}).json()
            assert body == {"items": [], "next_cursor": None}
