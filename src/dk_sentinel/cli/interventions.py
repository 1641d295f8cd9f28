"""Interventions: intervene, interventions list and cancel, deliver (the outbox to the platform)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import (
    AnalystOpt,
    Format,
    FormatOpt,
    PlayerIdArg,
    emit,
    when,
)
from dk_sentinel.vocabulary import InterventionType

interventions_app = typer.Typer(help="List and cancel interventions.", no_args_is_help=True)


def render_intervention(i: Any) -> Any:
    """The Rich view of one intervention."""
    from rich.table import Table
    from rich.text import Text

    table = Table("field", "value", title=f"intervention {i.intervention_id}", show_header=False)
    for key, value in i.model_dump(exclude={"events"}).items():
        if isinstance(value, datetime):
            value = when(value)
        if value is not None:
            table.add_row(key, Text(str(value)))
    return table


def intervene(
    ctx: typer.Context,
    player_id: PlayerIdArg,
    intervention_type: Annotated[
        InterventionType, typer.Option("--type", help="nudge, timeout, watchlist or referral.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (10-500 characters).")],
    duration: Annotated[
        int | None,
        typer.Option("--duration", help="Hours (1-168); timeouts only.", show_default=False),
    ] = None,
    analyst: AnalystOpt = None,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Repeat-safe key.", show_default=False)
    ] = None,
    supersede: Annotated[
        bool, typer.Option("--supersede", help="Replace an active timeout.")
    ] = False,
    no_ai: Annotated[
        bool, typer.Option("--no-ai", help="Nudge text from the template only.")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Record an intervention (with a snapshot of the player's risk and an audit event)."""
    created = state(ctx).app.interventions.record(
        player_id=player_id, intervention_type=intervention_type,
        reason=reason, analyst_id=analyst, duration_hours=duration,
        idempotency_key=idempotency_key, supersede=supersede, use_ai=not no_ai,
    )  # fmt: skip
    emit(created, fmt, render_intervention)


def render_interventions(items: Any) -> Any:
    """The Rich view of a list of interventions."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="interventions (times UTC)")
    # Ids are what an analyst copies into `cancel`: never cut them with an ellipsis (a narrow
    # terminal folds them onto two lines instead); the reason takes the width that is left.
    for name in ("id", "player", "type", "status", "created", "until", "analyst", "platform"):
        table.add_column(name, overflow="fold")
    table.add_column("reason", ratio=1, overflow="fold")
    for i in items:
        delivery = i.delivery_status or "-"
        if i.delivery_status == "pending" and i.delivery_attempts:
            delivery += f" ({i.delivery_attempts} tries)"
        table.add_row(
            i.intervention_id, i.player_id, i.intervention_type, i.status,
            when(i.created_at), when(i.expires_at), i.analyst_id,
            delivery, Text(i.reason),
        )  # fmt: skip
    return table


@interventions_app.command("list")
def interventions_list(
    ctx: typer.Context,
    player: Annotated[
        str | None, typer.Option("--player", help="Only this player.", show_default=False)
    ] = None,
    active: Annotated[bool, typer.Option("--active", help="Only active interventions.")] = False,
    intervention_type: Annotated[
        InterventionType | None, typer.Option("--type", help="Only this type.", show_default=False)
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", help="Created at or after (UTC).", show_default=False),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List interventions, newest first."""
    items = state(ctx).app.interventions.find(
        player_id=player, active=True if active else None,
        intervention_type=intervention_type, since=since,
    )  # fmt: skip
    emit(items, fmt, render_interventions)


@interventions_app.command("cancel")
def interventions_cancel(
    ctx: typer.Context,
    intervention_id: Annotated[str, typer.Argument(help="The intervention id (INT-...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (10-500 characters).")],
    analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Cancel an active intervention (recorded as an audit event; nothing is deleted)."""
    item = state(ctx).app.interventions.cancel(intervention_id, reason, analyst)
    emit(item, fmt, render_intervention)


def render_delivery(r: Any) -> Any:
    """The Rich view of a delivery run."""
    from rich.text import Text

    line = (
        f"deliver -> {r.webhook}: {r.delivered} delivered, {r.failed} failed, "
        f"{r.still_pending} still pending"
        + (" (webhook unreachable: the rest wait for the next run)" if r.stopped_early else "")
    )
    return Text("\n".join([line, *r.errors[:10]]))


def deliver(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """Post pending interventions to the platform webhook, signed (run from cron)."""
    result = state(ctx).app.interventions.deliver()
    emit(result, fmt, render_delivery)
    if (failure := result.failure()) is not None:
        raise failure


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(intervene)
    app.add_typer(interventions_app, name="interventions")
    app.command()(deliver)
