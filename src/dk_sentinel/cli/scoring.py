"""Scoring: score-batch (one run, for cron) and runs (the latest runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, emit, progress, when


def render_runs(runs: Any) -> Any:
    """The Rich view of scoring runs."""
    from rich.table import Table

    table = Table(title="scoring runs (times UTC)")
    # One line per run; only the note wraps (the run id is the key of the audit trail).
    for name in ("run", "kind", "status", "as of", "started", "secs", "new bets", "players",
                 "tests"):  # fmt: skip
        table.add_column(name, no_wrap=True)
    table.add_column("note", overflow="fold")
    for r in runs:
        style = {
            "success": "green",
            "failed": "red",
            "tests_failed": "red",
            "running": "yellow",
        }.get(r.status, "")
        seconds = "-" if r.seconds is None else f"{r.seconds:.1f}"
        table.add_row(
            r.run_id, r.kind, f"[{style}]{r.status}[/]" if style else r.status,
            when(r.as_of),
            when(r.started_at), seconds, f"{r.new_bets:,}",
            f"{r.players_scored:,}",
            f"{r.tests_passed} ok" + (f", {r.tests_failed} failed" if r.tests_failed else ""),
            (r.error or "")[:80],
        )  # fmt: skip
    return table


def score_batch(
    ctx: typer.Context,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of", help="Score as of this time (UTC); forces a run.", show_default=False
        ),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Score even when no new bets arrived; rebuild the bets' derived tables.",
        ),
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score every player with dbt (run hourly from cron); exit 75 if a run is in progress."""
    with progress("score-batch") as say:
        run = state(ctx).app.scoring.run(as_of=as_of, full_refresh=full_refresh, progress=say)
    if fmt is Format.json:  # the record on every outcome, then the exit code it calls for
        emit(run, fmt, lambda r: r)
    if (failure := run.failure()) is not None:
        raise failure


def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many runs.")] = 20,
    fmt: FormatOpt = Format.table,
) -> None:
    """List scoring runs, newest first."""
    emit(state(ctx).app.scoring.runs(limit), fmt, render_runs)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command(name="score-batch")(score_batch)
    app.command()(runs)
