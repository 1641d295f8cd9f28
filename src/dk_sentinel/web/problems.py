"""Errors as ``application/problem+json`` (RFC 9457): the one mapping of the web front ends.

Every ``SentinelError`` becomes the HTTP twin of its CLI exit code; a request that fails
validation, a missing key, a rate limit and Starlette's own answers get the same body shape.
The console (:mod:`dk_sentinel.console.rendering`) renders its errors as pages at the same
statuses, from :data:`STATUS`.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dk_sentinel.errors import (
    BusyError,
    ConflictError,
    InsufficientData,
    NotFoundError,
    PermissionDenied,
    SchemaError,
    SentinelError,
    UsageError,
    WarehouseUnavailable,
)
from dk_sentinel.models import Document

log = logging.getLogger("dk_sentinel.api")
PROBLEM = "application/problem+json"

#: The CLI's exit codes have one HTTP twin each (README "Exit codes" / "REST API").
STATUS: list[tuple[type[SentinelError], int]] = [
    (PermissionDenied, 403),
    (ConflictError, 409),
    (NotFoundError, 404),
    (InsufficientData, 422),
    (UsageError, 422),
    (BusyError, 503),
    (SchemaError, 503),
    (WarehouseUnavailable, 503),
]


class FieldProblem(Document):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(Document):
    """An error (RFC 9457 ``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    hint: str | None = None
    error: str | None = Field(
        default=None, description="The kind of error (e.g. ConflictError), for clients to branch on"
    )
    errors: list[FieldProblem] | None = None


class Unauthorised(Exception):
    """No valid API key (401)."""


class RateLimited(Exception):
    """Over the key's rate limit (429)."""

    def __init__(self, retry_after: int, limit: str) -> None:
        """Remember when to come back.

        Args:
            retry_after: Seconds until the key's window has room again.
            limit: The limit, as configured (``[api] rate_limit``).
        """
        super().__init__(retry_after)
        self.retry_after, self.limit = retry_after, limit


_WHY = {
    304: "Not modified (the ETag matches)",
    400: "The body is not JSON",
    401: "No valid X-API-Key",
    403: "The key's role may not do this",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Invalid request",
    429: "Over the key's rate limit (Retry-After)",
    503: "The warehouse is busy or not ready (Retry-After)",
}

#: The statuses every route with an API key can answer.
KEYED = (401, 403, 422, 429, 503)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (problem+json bodies).

    Args:
        *codes: HTTP statuses the route can answer besides its success.

    Returns:
        The ``responses`` argument of a route decorator.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code == 304:
            out[code] = {"description": _WHY[code]}
            continue
        schema = {"$ref": "#/components/schemas/Problem"}
        out[code] = {"description": _WHY[code], "model": Problem,
                     "content": {PROBLEM: {"schema": schema}}}  # fmt: skip
    return out


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response; its title is the status's phrase (503 adds Retry-After)."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail, **extra}  # fmt: skip
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _sentinel_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SentinelError)
    status = next((code for cls, code in STATUS if isinstance(exc, cls)), 500)
    detail = exc.message if status < 500 or status == 503 else "internal error"
    # the error's kind is its own member: a client branches on it without parsing the title
    return problem(status, detail, hint=exc.hint, error=type(exc).__name__)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
        for e in exc.errors()
    ]
    return problem(422, "the request is invalid", errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's own answers (a body that is not JSON, an unknown path, a wrong method).
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405 and (documented := _documented_methods(request)):
        response.headers["Allow"] = ", ".join(documented)  # RFC 9110: every method it has
    return response


def _documented_methods(request: Request) -> list[str]:
    # Starlette's Allow names only the first route of a path (GET and POST /api/interventions
    # are two routes); the OpenAPI document knows them all (the console's pages are not in it
    # and keep Starlette's)
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path):
            return sorted(method.upper() for method in operations)
    return []


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return problem(500, "internal error")


async def _unauthorised(request: Request, exc: Exception) -> JSONResponse:
    response = problem(401, "a valid X-API-Key header is required")
    response.headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
    return response


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    response = problem(429, f"limit {exc.limit} per key")
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install(app: FastAPI) -> None:
    """Map every error of ``app`` to a problem+json response."""
    app.add_exception_handler(SentinelError, _sentinel_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Unauthorised, _unauthorised)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(Exception, _unexpected)
