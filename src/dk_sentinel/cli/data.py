"""Data in and out: generate (synthetic files), ingest (contract files), export."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, emit, info, progress
from dk_sentinel.vocabulary import Category, ContractKind

#: The data contract's file kinds, as typed on the command line (account-events).
Kind = StrEnum(  # type: ignore[misc]
    "Kind", {k.replace("_", "-"): k.replace("_", "-") for k in get_args(ContractKind)}
)


class FileFormat(StrEnum):
    """Generated file format."""

    csv = "csv"
    parquet = "parquet"


class FamilyMix(StrEnum):
    """Which scenario families ``generate`` draws players from."""

    core = "core"
    all = "all"


def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the files into.")],
    players: Annotated[int, typer.Option(min=1, help="Number of players.")] = 2000,
    days: Annotated[int, typer.Option(min=7, max=3650, help="Days of history.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="End of the history (UTC); default now.")
    ] = None,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="csv or parquet.")
    ] = FileFormat.csv,
    families: Annotated[
        FamilyMix,
        typer.Option(help="core: the eight archetypes; all: every scenario family."),
    ] = FamilyMix.core,
    season_shift: Annotated[
        bool,
        typer.Option(help="Everyone changes at once in the last 14 days (a season start)."),
    ] = False,
    holiday: Annotated[
        bool,
        typer.Option(
            help="A shared 4-day spike ending 4 days before the end (a long holiday weekend): "
            "most players bet several times as often, at twice their stake."
        ),
    ] = False,
    prevalence: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of at-risk players (e.g. 0.03); default: the families' usual mix.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write synthetic contract files (bets, assessments, outcomes) plus a labels file."""
    from dk_sentinel.usecases import Data

    with progress("generating"):
        result = Data.generate(  # no settings needed
            out, players, days, seed, as_of, file_format.value, families.value, season_shift,
            holiday=holiday, prevalence=prevalence,
        )  # fmt: skip
    info(
        f"Generated {result.bets:,} bets, {result.assessments:,} assessments and "
        f"{result.outcomes:,} outcomes for {result.players:,} players in {out} "
        f"({result.seconds:.1f} s). labels.csv is ground truth for evaluation only."
    )


def ingest(
    ctx: typer.Context,
    kind: Annotated[
        Kind,
        typer.Argument(
            help="What the files hold: bets, assessments, outcomes, payments or account-events."
        ),
    ],
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories or glob patterns.", show_default=False)
    ],
    rejects_out: Annotated[
        Path | None,
        typer.Option(
            "--rejects-out", help="Also write rejected rows to this CSV.", show_default=False
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Validate and count against the warehouse (accepted, "
            "already present, rejected and why); write nothing.",
        ),
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Validate contract files and load them (exit 4 when some rows were rejected)."""
    from rich.table import Table

    with progress(f"ingest {kind.value}") as say:
        contract_kind: ContractKind = kind.value.replace("-", "_")  # type: ignore[assignment]
        result = state(ctx).app.data.load(
            contract_kind, paths, rejects_out=rejects_out, progress=say, dry_run=dry_run
        )

    def render(r: Any) -> Table:
        table = Table(
            "file",
            "read",
            "accepted",
            "already present",
            "rejected",
            "top reasons",
            title=f"ingest {r.kind}" + (" (dry run: nothing written)" if r.dry_run else ""),
        )
        for f in r.files:
            reasons = "\n".join(f"{n} × {reason}" for reason, n in f.top_reasons.items())
            table.add_row(
                f.file,
                f"{f.rows_read:,}",
                f"{f.accepted:,}",
                f"{f.already_present:,}",
                f"{f.rejected:,}",
                reasons,
            )
        return table

    emit(result, fmt, render)
    if (failure := result.failure()) is not None:  # shown first, then exit 4
        raise failure


export_app = typer.Typer(
    help="Export scores or interventions to CSV, Parquet or JSON.", no_args_is_help=True
)


def _export(
    ctx: typer.Context, kind: str, out: str, category: str | None,
    pending_delivery: bool = False, history: bool = False,
) -> None:  # fmt: skip
    result = state(ctx).app.data.export(
        kind, out, category=category,  # type: ignore[arg-type]
        pending_delivery=pending_delivery, history=history,
    )  # fmt: skip
    if result.records is not None:  # `--out -`: the rows are the data, on stdout
        from dk_sentinel.models import json_default

        sys.stdout.write(json.dumps(result.records, default=json_default, indent=2) + "\n")
    info(f"Exported {result.rows:,} rows of {kind} to {result.path} ({result.format}).")
    if pending_delivery:
        info("They are marked delivered (channel file); the next export holds only new ones.")


@export_app.command("scores")
def export_scores(
    ctx: typer.Context,
    out: Annotated[
        str, typer.Option("--out", "-o", help="FILE.csv, FILE.parquet, FILE.json or - (stdout).")
    ],
    category: Annotated[
        Category | None,
        typer.Option("--category", help="Only this category.", show_default=False),
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Every kept run's rows (run id, kind, as-of, player, composite, category), "
            "to recompute a lead-time curve or a backtest.",
        ),
    ] = False,
) -> None:
    """Export the latest score of every player (components, presence, category, run)."""
    _export(ctx, "scores", out, category, history=history)


@export_app.command("interventions")
def export_interventions(
    ctx: typer.Context,
    out: Annotated[
        str, typer.Option("--out", "-o", help="FILE.csv, FILE.parquet, FILE.json or - (stdout).")
    ],
    pending_delivery: Annotated[
        bool,
        typer.Option(
            "--pending-delivery",
            help="Only the outbox items not yet delivered (for a file-based integration).",
        ),
    ] = False,
) -> None:
    """Export every intervention with its audit events (or the undelivered outbox items)."""
    _export(ctx, "interventions", out, None, pending_delivery)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(generate)
    app.command()(ingest)
    app.add_typer(export_app, name="export")
