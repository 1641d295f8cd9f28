"""The analysts' console: server-rendered pages on ``sentinel serve`` (the third front end).

Jinja2 templates and static files shipped in the package (no build step, no CDN: it works
offline), over the same use cases as the CLI and the API, signed in with the same API keys.
Pages: sign-in, the review queue, a player (assessment, evidence, history chart, bets, money,
explanation, interventions, audit trail, cases) and the cases list; forms record and cancel
interventions and log contact attempts. A sibling of the REST API (:mod:`dk_sentinel.api`),
never importing it: keys, roles, paging and the error statuses come from :mod:`dk_sentinel.web`,
and the factory (:func:`dk_sentinel.server.create_app`) calls :func:`install`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the console's pages and static files on ``app``."""
    from dk_sentinel.console import cases, interventions, players, queue, signin

    for resource in (signin, queue, players, interventions, cases):
        app.include_router(resource.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
