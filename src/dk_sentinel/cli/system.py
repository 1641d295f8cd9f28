"""The tool itself: init, doctor, config show, demo, schema."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, emit, info, progress
from dk_sentinel.errors import ExitCode

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


def init(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Create or migrate the warehouse schema (safe to run twice)."""
    status = state(ctx).app.system.initialise()
    if status.up_to_date:
        info(f"Schema is up to date (version {status.version_now}).")
    else:
        info(f"Schema migrated from version {status.version_before} to {status.version_now}.")
    if fmt is Format.json:
        emit(status, fmt, lambda s: s)


def doctor(
    ctx: typer.Context,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            help="Also fail (exit 69) when the last successful scoring "
            "run is older than this: 30m, 2h, 1d (a cron monitor's check).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Check config, warehouse, schema, the dbt project and the Anthropic key."""
    from rich.table import Table

    report = state(ctx).app.system.check_health(max_age)

    def render(r: Any) -> Table:
        table = Table("check", "status", "detail", title="sentinel doctor")
        for c in r.checks:
            mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]warn[/]")
            table.add_row(c.name, mark, c.detail)
        return table

    emit(report, fmt, render)
    if not report.ok:
        raise typer.Exit(int(ExitCode.UNAVAILABLE))


@config_app.command("show")
def config_show(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Show every effective setting and where its value came from (secrets redacted)."""
    from rich.table import Table

    from dk_sentinel.config import describe

    rows = [{"key": k, "value": v, "source": s} for k, v, s in describe(state(ctx).settings)]

    def render(data: Any) -> Table:
        table = Table("key", "value", "source", title="effective settings")
        for row in data["settings"]:
            table.add_row(row["key"], str(row["value"]), row["source"])
        return table

    emit({"settings": rows}, fmt, render)


def demo(
    ctx: typer.Context,
    players: Annotated[int, typer.Option(min=50, help="Synthetic players.")] = 2000,
    days: Annotated[int, typer.Option(min=30, max=365, help="Days of history.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo warehouse and files.")
    ] = Path("sentinel-demo"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing demo warehouse.")
    ] = False,
) -> None:
    """Build a scored demo warehouse from synthetic data; show the queue and the top player."""
    from dk_sentinel.cli.players import render_assessment, render_queue

    with progress("demo") as say:
        result = state(ctx).app.system.demo(
            directory, players=players, days=days, seed=seed, force=force,
            progress=say,
        )  # fmt: skip
    emit(result.queue, Format.table, render_queue)
    if result.top_player is not None:
        emit(result.top_player, Format.table, render_assessment)
    db = result.warehouse
    info(
        f"\nDemo warehouse: {db} ({result.bets:,} bets, {result.players:,} players). Try:\n"
        f"  sentinel --db {db} queue --category CRITICAL --limit 20\n"
        f"  sentinel --db {db} analyze <PLAYER_ID> --history --explain\n"
        f"  sentinel --db {db} intervene <PLAYER_ID> --type timeout --duration 24 "
        f'--reason "Chasing losses after midnight" --analyst you01\n'
        f"  sentinel --db {db} report"
    )


class SchemaName(StrEnum):
    """Published JSON Schemas."""

    RiskAssessment = "RiskAssessment"
    Intervention = "Intervention"
    Queue = "Queue"
    BatchRun = "BatchRun"
    Case = "Case"
    openapi = "openapi"


def schema(
    name: Annotated[SchemaName, typer.Argument(help="Model name.")] = SchemaName.RiskAssessment,
) -> None:
    """Print the JSON Schema of a JSON output (e.g. RiskAssessment), or the API's OpenAPI."""
    if name is SchemaName.openapi:
        from dk_sentinel.config import load_settings
        from dk_sentinel.server import create_app

        document = create_app(load_settings()).openapi()
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    from dk_sentinel import models, usecases

    model = getattr(models, name.value, None) or getattr(usecases, name.value)
    # the validation schema: the same JSON, with every property typed (the serialization one
    # is untyped, through the wildcard serializer that writes timestamps as RFC 3339)
    sys.stdout.write(json.dumps(model.model_json_schema(mode="validation"), indent=2) + "\n")


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(init)
    app.command()(doctor)
    app.add_typer(config_app, name="config")
    app.command()(demo)
    app.command()(schema)
