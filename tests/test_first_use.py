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

README = Path(__file__).parent.parent / "README.md"


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
