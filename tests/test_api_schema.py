"""Property tests from the OpenAPI schema (schemathesis, through the ASGI app: no network).

For every operation, generated requests -- valid and invalid -- never get a 5xx, and every
response conforms to the schema: a documented status, content type, headers and body.
``POST /api/score-batch`` is left out: each call would start a real dbt run in the background;
its 202 and 409 are tested in test_api.py.
"""

from __future__ import annotations

from collections.abc import Iterator
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

from dk_sentinel.api import create_app
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.usecases import create_api_key

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
        self.app: Any = create_app(load_settings())  # serves /openapi.json: no warehouse

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


APP = _Deferred()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/score-batch")


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
    yield create_api_key(unlimited, "admin01", "admin").api_key


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_never_errors(case: Any, key: str) -> None:
    case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)
