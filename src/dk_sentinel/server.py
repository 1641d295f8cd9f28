"""The app factory of ``sentinel serve``: lifespan, middleware, the error mapping, both front ends.

Above the two web front ends: the REST API (:mod:`dk_sentinel.api`, under ``/api``, its docs at
``/docs``) and the analysts' console (:mod:`dk_sentinel.console`, at ``/``), siblings that share
the keys, roles and the error table of :mod:`dk_sentinel.web` and never import each other.

Connections come from the server runtime's pool (:mod:`dk_sentinel.warehouse.pool`): on the
embedded DuckDB file, one connection shared by the requests, given back whenever cron or a
CLI command waits for the file; a request then waits at most ``[api] busy_timeout_seconds``
(2 s) and gets ``503`` with ``Retry-After`` instead of waiting behind a whole scoring run. On
Snowflake, a few pooled connections. With ``schedule`` the runtime also scores in-process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from dk_sentinel import __version__, api, console
from dk_sentinel.config import Settings
from dk_sentinel.usecases import ServerRuntime
from dk_sentinel.web import problems
from dk_sentinel.web.deps import ApiState

log = logging.getLogger("dk_sentinel.api")  # the access log keeps the name it has always had


def create_app(settings: Settings, schedule: str | None = None) -> FastAPI:
    """Build the app for ``settings``: the API and the console (``sentinel serve``, the tests).

    Args:
        settings: Loaded settings; the warehouse busy timeout becomes ``[api]``'s.
        schedule: A cron expression: also run score-batch in-process on it.

    Returns:
        The ASGI app (its lifespan starts the scheduler and closes the pool).

    Raises:
        UsageError: The schedule is not a valid cron expression.
    """
    runtime = ServerRuntime(settings, schedule)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="DK Sentinel",
        version=__version__,
        description="Responsible-gaming risk analytics: the CLI's use cases over HTTP.",
        lifespan=lifespan,
        docs_url=None,  # api.install serves them from the package (no CDN: offline)
        redoc_url=None,
        # one schema per model, typed: the serialization schemas of the models are untyped
        # (their wildcard serializer writes timestamps as RFC 3339 and returns Any)
        separate_input_output_schemas=False,
    )
    app.state.sentinel = ApiState(runtime)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST"], allow_headers=["X-API-Key", "Content-Type",
                                                          "Idempotency-Key", "If-None-Match"],
        )  # fmt: skip
    app.middleware("http")(_access_log(settings.api.access_log == "json"))
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    problems.install(app)
    api.install(app)  # /health, /api/..., /docs
    console.install(app)  # the pages at /, /static
    return app


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413, reading no more of it than that.

    A declared Content-Length over the limit is refused before anything is read; a body sent
    in chunks is read up to the limit before the app sees it, and refused once it passes.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on, counting its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        if declared is not None and declared.isdigit():
            await self.app(scope, receive, send)  # the server stops at the declared length
            return
        # sent in chunks: read at most the limit (and one chunk) before the app sees any of it
        buffered: list[Any] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Any:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({
            "type": "about:blank", "title": "Payload Too Large", "status": 413,
            "detail": f"the request body is larger than {self.max_bytes} bytes",
            "error": "PayloadTooLarge",
            "hint": "Send a smaller body; [api] max_body_bytes sets the limit.",
        }).encode()  # fmt: skip
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def _access_log(as_json: bool) -> Callable[..., Awaitable[Response]]:
    """A middleware logging each request (method, path, status, time, key id) on stderr."""

    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        ms = (time.perf_counter() - started) * 1000
        key = getattr(request.state, "key_id", "-")
        if as_json:
            log.info(json.dumps({"method": request.method, "path": request.url.path,
                                 "status": response.status_code, "ms": round(ms, 1),
                                 "key": key}))  # fmt: skip
        else:
            log.info("%s %s %d %.1f ms key=%s", request.method, request.url.path,
                     response.status_code, ms, key)  # fmt: skip
        return response

    return access_log


def app_from_environment() -> FastAPI:
    """The app of one of several worker processes (``sentinel serve --workers N``).

    The settings are the parent's, from the JSON file named by ``$SENTINEL_SERVE_SETTINGS``
    (secrets are never in it: they are read from the environment).
    """
    import os
    from pathlib import Path

    path = Path(os.environ["SENTINEL_SERVE_SETTINGS"])
    return create_app(Settings.model_validate_json(path.read_text(encoding="utf-8")))
