"""Operations commands: init, doctor, config show."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, emit, info
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


def register(app: typer.Typer) -> None:
    """Attach the operations commands to the root app."""
    app.command()(init)
    app.command()(doctor)
    app.add_typer(config_app, name="config")
