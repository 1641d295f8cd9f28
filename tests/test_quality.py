"""The house standards as tests, so the README's one test command checks them all.

ruff lint, ruff format (Black style at 100 columns) and mypy --strict on the library, each in a
child process from the repository root; a failure shows the tool's own report.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.standards
@pytest.mark.slow  # a child process per tool: out of the fast tier
@pytest.mark.parametrize(
    "tool",
    [
        ["ruff", "check", "src", "tests", "bench", "docs"],
        ["ruff", "format", "--check", "src", "tests", "bench", "docs"],
        ["mypy"],  # files and strictness come from pyproject.toml
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_meets_the_house_standards(tool: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *tool], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def lint_imports(package_parent: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the contracts of pyproject.toml (on a copy of the package if given)."""
    import os

    env = dict(os.environ)
    if package_parent is not None:
        env["PYTHONPATH"] = str(package_parent)
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


@pytest.mark.standards
@pytest.mark.slow  # a child process per tool: out of the fast tier
def test_layers_hold() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.standards
@pytest.mark.slow  # a child process per tool: out of the fast tier
def test_an_upward_import_breaks_the_layer_contract(tmp_path: Path) -> None:
    """The contract can fail: a domain module importing the use-case layer is reported."""
    import shutil

    copy = tmp_path / "dk_sentinel"
    shutil.copytree(ROOT / "src" / "dk_sentinel", copy, ignore=shutil.ignore_patterns("*.duckdb"))
    analysis = copy / "analysis" / "assessment.py"
    analysis.write_text(analysis.read_text() + "\nimport dk_sentinel.usecases  # upward\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "dk_sentinel.analysis is not allowed to import dk_sentinel.usecases" in result.stdout
    assert "dk_sentinel.analysis.assessment -> dk_sentinel.usecases" in result.stdout


@pytest.mark.standards
@pytest.mark.slow  # a child process per tool: out of the fast tier
@pytest.mark.parametrize("front_end", ["api/routes/queue.py", "console/queue.py"])
def test_a_front_end_reaching_past_the_use_cases_breaks_its_contract(
    tmp_path: Path, front_end: str
) -> None:
    """Issue #24: cli/, api/ and console/ import only the use cases, models, errors, config."""
    import shutil

    copy = tmp_path / "dk_sentinel"
    shutil.copytree(ROOT / "src" / "dk_sentinel", copy, ignore=shutil.ignore_patterns("*.duckdb"))
    module = copy / front_end
    module.write_text(
        module.read_text() + "\nimport dk_sentinel.warehouse.pool  # past the use cases\n"
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    package = front_end.split("/")[0]
    assert f"dk_sentinel.{package} is not allowed to import dk_sentinel.warehouse" in result.stdout


@pytest.mark.standards
@pytest.mark.slow  # a child process per tool: out of the fast tier
def test_the_console_importing_the_api_breaks_the_layers(tmp_path: Path) -> None:
    """Issue #40: the console and the API are siblings; what both need is in web/, below both."""
    import shutil

    copy = tmp_path / "dk_sentinel"
    shutil.copytree(ROOT / "src" / "dk_sentinel", copy, ignore=shutil.ignore_patterns("*.duckdb"))
    page = copy / "console" / "queue.py"
    page.write_text(page.read_text() + "\nimport dk_sentinel.api.schemas  # a sibling\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "dk_sentinel.console is not allowed to import dk_sentinel.api" in result.stdout


def _sizes(package: str) -> dict[str, int]:
    place = ROOT / "src" / "dk_sentinel" / package
    return {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (place.rglob("*.py") if place.is_dir() else [place])
    }


@pytest.mark.standards
@pytest.mark.slow  # a child process: out of the fast tier
def test_the_structure_has_no_import_back_up_and_no_circle() -> None:
    """#40: docs/structure.py (the README's structure table) finds 0 of each, and says so."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "structure.py"), "--root", str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imports back up a layer: 0\n" in done.stdout and "circles: 0\n" in done.stdout
    assert "2. cli " in done.stdout and "4. api | console " in done.stdout


def test_no_web_module_is_over_300_lines() -> None:
    """Issue #24: the API is a package of small routers, not one 500-line factory; #40: so are
    the console beside it, what both share (web/) and the factory above both (server.py)."""
    sizes = {place: _sizes(place) for place in ("api", "console", "web", "server.py")}
    assert len(sizes["api"]) >= 9, sizes  # the package face, schemas and the routes
    assert len(sizes["console"]) >= 8, sizes  # pages by resource, rendering, session, charts
    assert {f"src/dk_sentinel/web/{name}.py" for name in ("deps", "problems")} <= set(sizes["web"])
    assert not (ROOT / "src" / "dk_sentinel" / "api" / "console").exists()  # a sibling now
    assert max(n for part in sizes.values() for n in part.values()) <= 300, sizes


def test_the_use_cases_are_modules_by_resource_of_at_most_400_lines() -> None:
    """Issue #40: one module per resource, not one 900-line application object."""
    sizes = _sizes("usecases")
    resources = {"players", "interventions", "cases", "scoring", "outcomes", "keys", "data"}
    assert {f"src/dk_sentinel/usecases/{name}.py" for name in resources} <= set(sizes), sizes
    assert max(sizes.values()) <= 400, sizes
