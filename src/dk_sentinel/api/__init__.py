"""The REST API (``sentinel serve``): a second front end over the same use cases as the CLI.

A route parses its input, checks the caller's API key and role, calls one function of
:mod:`dk_sentinel.usecases` and returns the same pydantic model the CLI prints with
``--format json``. One exception handler maps the ``SentinelError`` hierarchy to HTTP statuses
with ``application/problem+json`` bodies (RFC 9457), as the CLI maps it to exit codes.

Connections come from a pool installed for the app's lifetime
(:mod:`dk_sentinel.warehouse.pool`): on the embedded DuckDB file, one connection shared by the
requests, given back whenever cron or a CLI command waits for the file; a request then waits
at most ``[api] busy_timeout_seconds`` (2 s) and gets ``503`` with ``Retry-After`` instead of
waiting behind a whole scoring run. On Snowflake, a few pooled connections.

With ``schedule`` the app also runs the hourly scoring in-process
(:mod:`dk_sentinel.scheduler`).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dk_sentinel import __version__, usecases
from dk_sentinel.apikeys import ApiKey, Role
from dk_sentinel.config import Settings
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
from dk_sentinel.models import (
    PLAYER_ID_PATTERN,
    BatchRun,
    Document,
    Intervention,
    InterventionType,
    QueueCategory,
    QueueItem,
    RiskAssessment,
    utcnow,
)
from dk_sentinel.scheduler import Scheduler, ScheduleStatus
from dk_sentinel.scoring import new_run_id
from dk_sentinel.scoring.dbt import run_dbt
from dk_sentinel.warehouse.pool import install_pool, uninstall_pool

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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (problem+json bodies)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        if code == 304:
            out[code] = {"description": _WHY[code]}
            continue
        schema = {"$ref": "#/components/schemas/Problem"}
        out[code] = {"description": _WHY[code], "model": Problem,
                     "content": {PROBLEM: {"schema": schema}}}  # fmt: skip
    return out


#: The statuses every route with an API key can answer.
_KEYED = (401, 403, 422, 429, 503)


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class Health(Document):
    """Liveness."""

    status: str
    version: str
    timestamp: datetime


class AnalyzeRequest(Document):
    """The brief's body of ``POST /api/analytics/analyze-player``."""

    player_id: str = Field(pattern=PLAYER_ID_PATTERN, examples=["PLR_1234_MA"])
    include_history: bool = False
    generate_nudge: bool = False


class InterventionBody(Document):
    """The brief's body of ``POST /api/interventions``."""

    player_id: str = Field(examples=["PLR_1234_MA"])
    intervention_type: InterventionType = Field(examples=["timeout"])
    analyst_id: str | None = Field(default=None, examples=["ana01"])
    reason: str = Field(examples=["Chasing losses after midnight"])
    duration_hours: int | None = Field(default=None, examples=[24])
    supersede: bool = False


class CancelBody(Document):
    """Why an intervention is cancelled."""

    reason: str = Field(examples=["Player agreed a limit with support"])


class QueuePage(Document):
    """One page of the review queue."""

    run_id: str | None
    as_of: datetime | None
    min_category: str
    items: list[QueueItem]
    next_cursor: str | None


class InterventionPage(Document):
    """One page of interventions."""

    items: list[Intervention]
    next_cursor: str | None


class RunStarted(Document):
    """A scoring run was started in the background."""

    run_id: str
    status: str
    runs: str = "/api/runs"


class ServerHealth(Health):
    """Liveness, and the resident scheduler's state when ``--schedule`` is on."""

    schedule: ScheduleStatus | None = None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _page(items: list[Any], start: int, limit: int) -> tuple[list[Any], str | None]:
    """One page of ``items`` from ``start`` and the cursor of the next page (None: the last)."""
    more = len(items) > start + limit
    return items[start : start + limit], _cursor(start + limit) if more else None


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(int(base64.urlsafe_b64decode(cursor.encode()).decode()), 0)
    except ValueError:
        raise UsageError(
            "invalid cursor", "Pass back the next_cursor of a previous page."
        ) from None


class _Unauthorised(Exception):
    """No valid API key (401)."""


class _RateLimited(Exception):
    """Over the key's rate limit (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class _State:
    """What the request dependencies need: settings and the rate limiter."""

    def __init__(self, settings: Settings, limiter: Any, rate: Any) -> None:
        self.settings, self.limiter, self.rate = settings, limiter, rate


_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="sentinel api-keys create")


def _caller(needed: Role) -> Callable[..., ApiKey]:
    """A dependency: the request's API key, rate-limited, with at least the ``needed`` role."""

    def check(request: Request, x_api_key: Annotated[str | None, Security(_API_KEY)]) -> ApiKey:
        app_state: _State = request.app.state.sentinel
        key = usecases.authenticate_api_key(app_state.settings, x_api_key) if x_api_key else None
        if key is None:
            raise _Unauthorised()
        request.state.key_id = key.key_id
        if not app_state.limiter.hit(app_state.rate, key.key_id):
            reset = app_state.limiter.get_window_stats(app_state.rate, key.key_id).reset_time
            raise _RateLimited(max(int(reset - time.time()) + 1, 1))
        if not key.allows(needed):
            raise PermissionDenied(f"the {key.role} role may not do this; it needs {needed}")
        return key

    return check


Viewer = Annotated[ApiKey, Depends(_caller("viewer"))]
Analyst = Annotated[ApiKey, Depends(_caller("analyst"))]
Admin = Annotated[ApiKey, Depends(_caller("admin"))]


def create_app(settings: Settings, schedule: str | None = None) -> FastAPI:
    """Build the API for ``settings`` (the factory ``sentinel serve`` and the tests use).

    Args:
        settings: Loaded settings; the warehouse busy timeout becomes ``[api]``'s.
        schedule: A cron expression: also run score-batch in-process on it.

    Returns:
        The ASGI app (its lifespan opens the connection pool and starts the scheduler).

    Raises:
        UsageError: The schedule is not a valid cron expression.
    """
    from limits import parse
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    settings = settings.model_copy(deep=True)
    settings.warehouse.busy_timeout_seconds = settings.api.busy_timeout_seconds
    scoring = threading.Lock()
    scheduler = Scheduler(settings, schedule) if schedule else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = install_pool(settings, settings.api.pool_size)
        if scheduler:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler:
                scheduler.stop(settings.api.shutdown_timeout_seconds)
            uninstall_pool(pool)

    app = FastAPI(
        title="DK Sentinel",
        version=__version__,
        description="Responsible-gaming risk analytics: the CLI's use cases over HTTP.",
        lifespan=lifespan,
        # one schema per model, typed: the serialization schemas of the models are untyped
        # (their wildcard serializer writes timestamps as RFC 3339 and returns Any)
        separate_input_output_schemas=False,
    )
    app.state.sentinel = _State(
        settings, MovingWindowRateLimiter(MemoryStorage()), parse(settings.api.rate_limit)
    )
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST"], allow_headers=["X-API-Key", "Content-Type",
                                                          "Idempotency-Key", "If-None-Match"],
        )  # fmt: skip

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        ms = (time.perf_counter() - started) * 1000
        key = getattr(request.state, "key_id", "-")
        if settings.api.access_log == "json":
            log.info(json.dumps({"method": request.method, "path": request.url.path,
                                 "status": response.status_code, "ms": round(ms, 1),
                                 "key": key}))  # fmt: skip
        else:
            log.info("%s %s %d %.1f ms key=%s", request.method, request.url.path,
                     response.status_code, ms, key)  # fmt: skip
        return response

    @app.exception_handler(SentinelError)
    async def sentinel_error(request: Request, exc: SentinelError) -> JSONResponse:
        status = next((code for cls, code in STATUS if isinstance(exc, cls)), 500)
        detail = exc.message if status < 500 or status == 503 else "internal error"
        # the title is the status's phrase, as for every other problem; the error's kind is
        # its own member (a client branches on it without parsing the title)
        return _problem(
            status, HTTPStatus(status).phrase, detail, hint=exc.hint, error=type(exc).__name__
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        return _problem(422, "Unprocessable Content", "the request is invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own answers (a body that is not JSON, an unknown path, a wrong method).
        return _problem(exc.status_code, HTTPStatus(exc.status_code).phrase, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _problem(500, "Internal Server Error", "internal error")

    @app.exception_handler(_Unauthorised)
    async def unauthorised(request: Request, exc: _Unauthorised) -> JSONResponse:
        response = _problem(401, "Unauthorized", "a valid X-API-Key header is required")
        response.headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
        return response

    @app.exception_handler(_RateLimited)
    async def rate_limited(request: Request, exc: _RateLimited) -> JSONResponse:
        response = _problem(429, "Too Many Requests", f"limit {settings.api.rate_limit} per key")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.get("/health", tags=["health"])
    def health() -> ServerHealth:
        """Liveness: no auth, no warehouse; the scheduler's state when it runs."""
        return ServerHealth(status="ok", version=__version__, timestamp=datetime.now(UTC),
                            schedule=scheduler.status if scheduler else None)  # fmt: skip

    @app.get("/health/ready", tags=["health"], responses=_errors(503))
    def ready() -> Health:
        """Readiness: the warehouse is reachable and its schema current (else 503)."""
        usecases.readiness(settings)
        return Health(status="ready", version=__version__, timestamp=datetime.now(UTC))

    @app.post(
        "/api/analytics/analyze-player", tags=["analytics"], responses=_errors(*_KEYED, 400, 404)
    )
    def analyze_player(body: AnalyzeRequest, key: Viewer) -> RiskAssessment:
        """The player's assessment with an explanation (AI, or the rules: explanation_source)."""
        return usecases.analyze_player(
            settings, body.player_id, with_history=body.include_history, explain=True,
            nudge=body.generate_nudge,
        )  # fmt: skip

    @app.get(
        "/api/players/{player_id}/risk", tags=["analytics"], responses=_errors(*_KEYED, 304, 404)
    )
    def player_risk(
        player_id: str,
        key: Viewer,
        response: Response,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> RiskAssessment | None:
        """The latest assessment, read-only; ETag per scoring run (If-None-Match -> 304)."""
        assessment = usecases.analyze_player(settings, player_id)
        etag = f'"{assessment.run_id}"'
        if if_none_match == etag:
            return Response(status_code=304, headers={"ETag": etag})  # type: ignore[return-value]
        response.headers["ETag"] = etag
        return assessment

    @app.get("/api/queue", tags=["analytics"], responses=_errors(*_KEYED))
    def queue(
        key: Viewer,
        category: QueueCategory = "HIGH",
        state: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
    ) -> QueuePage:
        """The CLI's review queue, paginated by cursor."""
        start = _offset(cursor)
        full = usecases.review_queue(
            settings, min_category=category, state=state, limit=start + limit + 1
        )
        items, next_cursor = _page(full.items, start, limit)
        return QueuePage(run_id=full.run_id, as_of=full.as_of, min_category=full.min_category,
                         items=items, next_cursor=next_cursor)  # fmt: skip

    @app.post("/api/interventions", status_code=201, tags=["interventions"],
              responses=_errors(*_KEYED, 400, 404, 409))  # fmt: skip
    def create_intervention(
        body: InterventionBody,
        key: Analyst,
        response: Response,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> Intervention:
        """Record an intervention; the analyst is the key's (a different analyst_id is 403)."""
        if body.analyst_id is not None and body.analyst_id != key.analyst_id:
            raise PermissionDenied(
                f"analyst_id {body.analyst_id!r} is not the analyst of this API key"
            )
        item = usecases.record_intervention(
            settings, player_id=body.player_id, intervention_type=body.intervention_type,
            reason=body.reason, analyst_id=key.analyst_id, duration_hours=body.duration_hours,
            idempotency_key=idempotency_key, supersede=body.supersede,
        )  # fmt: skip
        response.headers["Location"] = f"/api/interventions/{item.intervention_id}"
        return item

    @app.get("/api/interventions", tags=["interventions"], responses=_errors(*_KEYED))
    def list_interventions(
        key: Viewer,
        player_id: str | None = None,
        active: bool | None = None,
        intervention_type: InterventionType | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> InterventionPage:
        """Interventions, newest first, filtered and paginated by cursor."""
        start = _offset(cursor)
        items, next_cursor = _page(
            usecases.interventions(
                settings, player_id=player_id, active=active, intervention_type=intervention_type
            ),
            start,
            limit,
        )
        return InterventionPage(items=items, next_cursor=next_cursor)

    @app.get("/api/interventions/{intervention_id}", tags=["interventions"],
             responses=_errors(*_KEYED, 404))  # fmt: skip
    def get_intervention(intervention_id: str, key: Viewer) -> Intervention:
        """One intervention with its audit events."""
        return usecases.intervention(settings, intervention_id)

    @app.post("/api/interventions/{intervention_id}/cancel", tags=["interventions"],
              responses=_errors(*_KEYED, 400, 404, 409))  # fmt: skip
    def cancel(intervention_id: str, body: CancelBody, key: Analyst) -> Intervention:
        """Cancel an active intervention (an audit event; nothing is deleted)."""
        return usecases.cancel(settings, intervention_id, body.reason, key.analyst_id)

    @app.get("/api/runs", tags=["scoring"], responses=_errors(*_KEYED))
    def runs(key: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[BatchRun]:
        """Scoring runs, newest first."""
        return usecases.scoring_runs(settings, limit)

    @app.post("/api/score-batch", status_code=202, tags=["scoring"],
              responses=_errors(*_KEYED, 409))  # fmt: skip
    def score_batch(key: Admin) -> RunStarted:
        """Start a scoring run in the background (409 while one runs)."""
        if not scoring.acquire(blocking=False):
            raise ConflictError("a scoring run started by this server is in progress")
        run_id = new_run_id()

        def work() -> None:
            try:
                run = usecases.run_scoring(
                    settings, run_id=run_id, dbt=scheduler.dbt if scheduler else run_dbt
                )
                log.info("API-started scoring run %s: %s", run.run_id, run.status)
            except SentinelError as exc:
                log.warning("API-started scoring run did not run: %s", exc.message)
            finally:
                scoring.release()

        threading.Thread(target=work, name="score-batch", daemon=True).start()
        return RunStarted(run_id=run_id, status=f"started at {utcnow():%Y-%m-%d %H:%M:%S} UTC")

    return app


def app_from_environment() -> FastAPI:
    """The app of one of several worker processes (``sentinel serve --workers N``).

    The settings are the parent's, from the JSON file named by ``$SENTINEL_SERVE_SETTINGS``
    (secrets are never in it: they are read from the environment).
    """
    import os
    from pathlib import Path

    path = Path(os.environ["SENTINEL_SERVE_SETTINGS"])
    return create_app(Settings.model_validate_json(path.read_text(encoding="utf-8")))
