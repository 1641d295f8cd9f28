"""Property tests from the OpenAPI schema (schemathesis, through the ASGI app: no network).

For every operation, generated requests -- valid and invalid -- never get a 5xx, and every
response conforms to the schema: a documented status, content type, headers and body.
``POST /api/score-batch`` is left out: each call would start a real dbt run in the background;
its 202 and 409 are tested in test_api.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from dk_sentinel.config import Settings, load_settings
from dk_sentinel.server import create_app
from dk_sentinel.usecases import Sentinel

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class _Deferred:
    """The ASGI app under test, swapped in by the fixture (the schema is read at import)."""

    def __init__(self) -> None:
        # serves /openapi.json only; a warehouse path in a temporary folder, never ./ (a test
        # writes only under its temporary folders)
        scratch = Path(tempfile.mkdtemp(prefix="sentinel-schema-")) / "unused.duckdb"
        self.app: Any = create_app(load_settings(overrides={"warehouse.duckdb.path": scratch}))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


APP = _Deferred()
# The coverage phase builds its cases at collection (seconds, in every run of any test); the
# slow CLI test below runs every phase, this one the examples and the fuzzing.
SCHEMA = schemathesis.openapi.from_asgi(
    "/openapi.json",
    APP,
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
).exclude(path="/api/score-batch")


@pytest.fixture
def key(scored: Settings) -> Iterator[str]:
    unlimited = load_settings(
        overrides={
            "warehouse.duckdb.path": scored.warehouse.duckdb.path,
            "api.rate_limit": "100000/minute",
            "ai.enabled": False,
        }
    )
    APP.app = create_app(unlimited)
    yield Sentinel(unlimited).keys.create("admin01", "admin").api_key


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_never_errors(case: Any, key: str) -> None:
    case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)


def _untyped(schema: dict[str, Any]) -> list[str]:
    """Every property, anywhere in a JSON Schema, with no type (nothing it can be checked by)."""
    kinds = ("type", "$ref", "anyOf", "allOf", "oneOf", "enum", "const")
    found: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and not any(k in prop for k in kinds):
                    found.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "#")
    return found


@pytest.mark.parametrize("name", ["RiskAssessment", "Intervention", "Queue", "BatchRun", "openapi"])
def test_every_published_schema_types_every_property(runner: Any, name: str) -> None:
    """Issue #24: `sentinel schema RiskAssessment` and the OpenAPI responses had 26 properties and
    none with a type, so "every answer matches the OpenAPI document" could not fail."""
    import json

    from conftest import invoke

    result = invoke(runner, "schema", name)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert _untyped(document) == []
    if name == "RiskAssessment":
        assert document["properties"]["as_of"] == {
            "format": "date-time", "title": "As Of", "type": "string"
        }  # fmt: skip


@pytest.mark.slow
def test_schemathesis_finds_nothing_in_any_phase_with_every_check(
    replayed: Settings, tmp_path: Path
) -> None:
    """Issue #37 row 16: the OpenAPI document states every rule the server enforces.

    Schemathesis' own command line, as an outside tester runs it, against a local server on a
    scored warehouse with open cases: every phase (examples, coverage, fuzzing, stateful) and
    every check (a schema-valid request refused, a schema-violating one accepted, an ``Allow``
    that misses a method, a response outside the document, ...) over every operation but
    score-batch (each call would start a real dbt run).
    """
    import socket
    import subprocess
    import sys
    import threading
    import time

    import uvicorn

    from dk_sentinel.interventions.cases import open_or_update
    from dk_sentinel.scoring import last_successful_run

    settings = load_settings(
        overrides={
            "warehouse.duckdb.path": replayed.warehouse.duckdb.path,
            "api.rate_limit": "100000/minute",
            "ai.enabled": False,
        }
    )
    app = Sentinel(settings)
    with app.connect() as wh:
        run = last_successful_run(wh)
        assert run is not None
        assert open_or_update(wh, run.run_id, run.as_of, {"CRITICAL": 2, "HIGH": 24}, run.as_of)
    key = app.keys.create("admin01", "admin").api_key
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        tester = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
                "--header", f"X-API-Key: {key}", "--exclude-path", "/api/score-batch",
                "--max-examples", "25", "--seed", "37", "--no-color",
            ],
            capture_output=True, text=True, cwd=tmp_path, timeout=600,
        )  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    summary = tester.stdout[tester.stdout.rfind("SUMMARY") :]
    assert tester.returncode == 0, tester.stdout[-6000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    assert "Tested: 20" in summary, summary
