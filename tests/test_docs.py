"""Every command is documented in the README, has help, and the README's two commands exist."""

import re
from pathlib import Path

import pytest
import typer

from conftest import invoke
from dk_sentinel.cli.main import app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def all_commands() -> list[str]:
    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names.extend(f"{name} {s}" for s in sub) if sub else names.append(name)
    return names


def test_every_command_is_documented_with_an_example() -> None:
    missing = [
        c
        for c in all_commands()
        if not re.search(rf"sentinel (--\S+ \S+ )*{re.escape(c)}\b", README)
    ]
    assert missing == []


def test_every_command_has_help(runner) -> None:
    for command in all_commands():
        result = invoke(runner, *command.split(), "--help")
        assert result.exit_code == 0, command
        assert "Usage:" in result.stdout


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```(?:bash|sh)\n(.*?)\n```", section, flags=re.S | re.M)
    install = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]"'
    assert [c.strip() for c in commands] == [
        install + " && .venv/bin/sentinel demo --force",
        install
        + " && .venv/bin/python -m pytest -n 2 --dist worksteal --cov=dk_sentinel --cov-fail-under=85",
    ]


def test_ci_runs_the_readme_test_command() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    test_command = re.findall(r"^```bash\n(.*?)\n```", section, flags=re.S | re.M)[1].strip()
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.rstrip().splitlines()[-1] == test_command


def test_exit_codes_are_documented() -> None:
    from dk_sentinel.errors import ExitCode

    for code in ExitCode:
        assert f"| {int(code)} " in README, code


@pytest.mark.slow  # the demo runs a dbt build
def test_demo_end_to_end(runner, tmp_path: Path) -> None:
    result = invoke(
        runner, "demo", "--players", "150", "--days", "45", "--dir", str(tmp_path / "d")
    )
    assert result.exit_code == 0, result.stderr
    assert "queue: HIGH and above" in result.stdout and "component" in result.stdout
    assert "sentinel --db" in result.stderr  # the next commands to try
    again = invoke(runner, "demo", "--players", "150", "--days", "45", "--dir", str(tmp_path / "d"))
    assert again.exit_code == 2 and "--force" in again.stderr


def test_a_demo_whose_scoring_fails_says_so(runner, tmp_path: Path, monkeypatch) -> None:
    """The demo must not print an empty queue and exit 0 when dbt failed."""
    from datetime import datetime

    from dk_sentinel.models import BatchRun
    from dk_sentinel.usecases.scoring import Scoring

    def failed(self: Scoring, **_kwargs: object) -> BatchRun:
        at = datetime(2026, 1, 1)
        return BatchRun(run_id="r1", status="failed", started_at=at, as_of=at, error="boom")

    monkeypatch.setattr(Scoring, "run", failed)
    result = invoke(runner, "demo", "--players", "60", "--days", "30", "--dir", str(tmp_path))
    assert result.exit_code == 1, result.stderr  # ExitCode.INTERNAL, as score-batch
    assert "scoring run r1 failed: boom" in result.stderr
    assert "queue" not in result.stdout
