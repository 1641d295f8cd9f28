"""Data-engineering commands: generate, ingest, score-batch, runs, demo."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, emit, info, progress, when
from dk_sentinel.models import ContractKind

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
    from dk_sentinel.cli.analyst import render_assessment, render_queue

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


def register(app: typer.Typer) -> None:
    """Attach the data commands to the root app."""
    app.command()(generate)
    app.command()(ingest)
    app.command(name="score-batch")(score_batch)
    app.command()(runs)
    app.command()(demo)
