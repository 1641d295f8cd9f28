"""The REST API under ``/api`` (``sentinel serve``): a front end over the same use cases as the CLI.

A route (:mod:`dk_sentinel.api.routes`) parses its input, checks the caller's API key and role
(:mod:`dk_sentinel.web.deps`), calls one method of the application object
(:class:`dk_sentinel.usecases.Sentinel`) and returns the same pydantic model the CLI prints
with ``--format json``. One mapping (:mod:`dk_sentinel.web.problems`) turns the
``SentinelError`` hierarchy into HTTP statuses with ``application/problem+json`` bodies
(RFC 9457), as the CLI maps it to exit codes. The console (:mod:`dk_sentinel.console`) is a
sibling front end, and neither imports the other; :func:`install` puts the API on the app that
the factory (:func:`dk_sentinel.server.create_app`) builds.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from dk_sentinel.api.routes import analytics, cases, health, interventions, players, queue, runs
from dk_sentinel.web.deps import no_unknown_query

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Include the API's routers on ``app`` and serve its OpenAPI docs at ``/docs``.

    Args:
        app: The app of :func:`dk_sentinel.server.create_app` (errors already mapped).
    """
    for module in (health, analytics, players, queue, interventions, cases, runs):
        app.include_router(module.router, dependencies=[Depends(no_unknown_query)])
    _offline_docs(app)


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the swagger-ui-bundle package, not a CDN (works offline)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )  # fmt: skip
