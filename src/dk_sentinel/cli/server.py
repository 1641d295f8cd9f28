"""`sentinel serve`: the REST API and the console (keys are `sentinel api-keys`, cli/keys.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import info


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    schedule: Annotated[
        str | None,
        typer.Option(
            help='Also run score-batch in-process on this cron expression, e.g. "5 * * * *".'
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="Worker processes (Snowflake only; 1 with --schedule)."),
    ] = 1,
) -> None:
    """Serve the REST API (FastAPI) over the same use cases as the CLI; Ctrl-C stops."""
    import uvicorn

    from dk_sentinel.server import create_app
    from dk_sentinel.usecases import check_serving

    settings = state(ctx).settings
    check_serving(settings, workers=workers, schedule=schedule)
    app = create_app(settings, schedule)  # validates the schedule before anything starts
    info(
        f"Serving DK Sentinel on http://{host}:{port}: the console at /, the API under /api "
        "(OpenAPI docs at /docs); Ctrl-C stops."
    )
    if schedule:
        info(f"Scoring in-process on {schedule!r} (UTC), under the score-batch lock.")
    if workers == 1:
        grace = int(settings.api.shutdown_timeout_seconds) + 5
        uvicorn.run(app, host=host, port=port, log_level="warning",
                    timeout_graceful_shutdown=grace)  # fmt: skip
        return
    # Several processes: each builds its app from the same settings, passed on as a JSON file.
    # Each would hold its own copy of the latest run, and a write through one worker would
    # show in the others only at their next poll: unless set, lookups read the warehouse.
    if settings.api.served_refresh_seconds is None:
        settings.api.served_refresh_seconds = 0
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(settings.model_dump_json())
    os.environ["SENTINEL_SERVE_SETTINGS"] = handle.name
    uvicorn.run("dk_sentinel.server:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(serve)
