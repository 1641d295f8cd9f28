"""The players' commands: analyze (one player) and queue (who to review next)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import (
    Format,
    FormatOpt,
    PlayerIdArg,
    category_text,
    emit,
    when,
)
from dk_sentinel.models import probability_phrase
from dk_sentinel.vocabulary import QueueCategory

# Typer's choices are the Literal vocabularies of models.py (one definition each).

_SPARK = "▁▂▃▄▅▆▇█"


def _spark(values: list[float]) -> str:
    return "".join(_SPARK[min(int(v * len(_SPARK)), len(_SPARK) - 1)] for v in values)


def _delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def render_assessment(a: Any) -> list[Any]:
    """The Rich view of a RiskAssessment."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    head = Text.from_markup(
        f"[bold]{a.player_id}[/]  ({a.state})   composite [bold]{a.composite_risk_score:.2f}[/]   "
        f"{category_text(a.risk_category)}   primary driver: {a.primary_driver or '-'}"
    )
    if a.risk_probability is not None:
        head.append(
            f"\n{probability_phrase(a.risk_probability, a.probability_horizon_days)} "
            f"(profile {a.profile_version})"
        )
    meta = Text(
        f"scored {when(a.scored_at)} as of {when(a.as_of)}, run {a.run_id}"
        + ("" if a.is_current else "  (not in the latest run: activity older than the window)")
        + ("  LOW CONFIDENCE: few bets" if a.is_low_confidence else "")
    )
    table = Table("component", "score", "weight", "present", "evidence", expand=True)
    for name, ev in a.evidence.items():
        score = "-" if ev.score is None else f"{ev.score:.2f}"
        table.add_row(name, score, f"{ev.weight:.2f}", "yes" if ev.present else "no", ev.summary)
    parts: list[Any] = [head, meta, table]
    f = a.freshness
    fresh = (
        f"last bet {when(f.last_bet_at)}; last scoring run {when(f.last_run_finished_at)}; "
        f"latest ingest {when(f.latest_ingest_at)}"
    )
    parts.append(Text(fresh, style="dim"))
    if f.scores_older_than_ingest:
        parts.append(
            Text(
                "Warning: bets were ingested after this score; run `sentinel score-batch`.",
                style="yellow",
            )
        )
    if a.history is not None:
        points = [p.composite_risk_score for p in a.history]
        parts.append(
            Text(
                f"90-day history {_spark(points) or '-'}  "
                f"change 7d {_delta(a.change_7d)}  30d {_delta(a.change_30d)}"
            )
        )
    if a.money is not None:
        m = a.money
        money = "  ".join(
            f"{w.days}d: in ${w.deposits:,.0f} ({w.deposit_count}) out ${w.withdrawals:,.0f} "
            f"({w.withdrawal_count})"
            for w in m.windows
        )
        parts.append(Text(
            f"money {money}\n30d: cancelled withdrawals {m.cancelled_withdrawals_30d}, "
            f"declined deposits {m.declined_deposits_30d}, limit changes {m.limit_changes_30d}, "
            f"RG page visits {m.rg_page_visits_30d}, time on site {m.session_hours_30d:.1f} h; "
            f"payment methods 90d {m.payment_methods_90d}"
        ))  # fmt: skip
    if a.ai_explanation:
        title = f"explanation ({a.explanation_source})"
        body = a.ai_explanation + (
            f"\n\nRecommended action: {a.recommended_action}" if a.recommended_action else ""
        )
        # Text(): model output is never rendered as markup
        parts.append(Panel(Text(body), title=title))
    if a.customer_nudge:
        parts.append(Panel(Text(a.customer_nudge), title="customer nudge (tone-checked)"))
    if a.open_interventions:
        it = Table("open intervention", "type", "since", "until", "analyst")
        for i in a.open_interventions:
            it.add_row(
                i.intervention_id,
                i.intervention_type,
                when(i.created_at),
                when(i.expires_at),
                i.analyst_id,
            )
        parts.append(it)
    else:
        parts.append(Text("No open interventions."))
    return parts


def analyze(
    ctx: typer.Context,
    player_id: PlayerIdArg,
    history: Annotated[
        bool, typer.Option("--history", help="Add the last 90 days and the 7/30-day change.")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option("--explain/--no-explain", help="Add an explanation and a recommended action."),
    ] = False,
    nudge: Annotated[
        bool, typer.Option("--nudge", help="Also draft a tone-checked customer nudge.")
    ] = False,
    no_ai: Annotated[
        bool, typer.Option("--no-ai", help="Use the deterministic rules explainer only.")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show one player's risk assessment with its evidence."""
    assessment = state(ctx).app.players.analyze(
        player_id, with_history=history, explain=explain, nudge=nudge,
        use_ai=not no_ai,
    )  # fmt: skip
    emit(assessment, fmt, render_assessment)


def render_queue(q: Any) -> Any:
    """The Rich view of the queue."""
    from rich.table import Table
    from rich.text import Text

    title = f"queue: {q.min_category} and above" + (f", run {q.run_id}" if q.run_id else "")
    calibrated = any(i.risk_probability is not None for i in q.items)
    columns = ["player", "state", "category", "score", "driver", "7d", "SLA due (UTC)", "status"]
    if calibrated:  # an applied scoring profile: its probability next to the composite
        columns.insert(4, "P(event)")
    table = Table(*columns, title=title)
    for i in q.items:
        overdue = (
            "[red]OVERDUE[/]" if i.is_overdue else ("actioned" if i.has_active_intervention else "")
        )
        if i.claimed_by:
            overdue = f"{overdue} claimed by {i.claimed_by}".strip()
        cells = [
            i.player_id, i.state, category_text(i.risk_category), f"{i.composite_risk_score:.2f}",
            i.primary_driver or "-", _delta(i.change_7d), when(i.sla_due_at), overdue,
        ]  # fmt: skip
        if calibrated:
            p = i.risk_probability
            cells.insert(4, "-" if p is None else f"{p * 100:.0f} %")
        table.add_row(*cells)
    if not q.items:
        return Text("The queue is empty (has `sentinel score-batch` run?).")
    return table


def queue(
    ctx: typer.Context,
    category: Annotated[
        QueueCategory, typer.Option("--category", help="Minimum category.")
    ] = "HIGH",
    state_code: Annotated[
        str | None, typer.Option("--state", help="Only this state, e.g. NJ.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000, help="At most this many players.")] = 50,
    include_actioned: Annotated[
        bool, typer.Option("--include-actioned", help="Keep players with an active intervention.")
    ] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only players past their SLA due time.")
    ] = False,
    trigger: Annotated[
        str | None,
        typer.Option(
            "--trigger",
            help="Only players whose open case carries this trigger code.",
            show_default=False,
        ),
    ] = None,
    claim: Annotated[
        bool,
        typer.Option(
            "--claim",
            help="Claim the first player nobody else is working (for "
            "[queue] claim_minutes) and show only that one.",
        ),
    ] = False,
    analyst: Annotated[
        str | None,
        typer.Option("--analyst", help="Who claims (default: [analyst]).", show_default=False),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """The review queue: highest-risk players first, with SLA due times."""
    if claim:
        item = state(ctx).app.players.claim(
            analyst, min_category=category, state=state_code, overdue=overdue, trigger=trigger
        )
        emit(item, fmt, render_claim)
        return
    result = state(ctx).app.players.queue(
        min_category=category, state=state_code, limit=limit,
        include_actioned=include_actioned, overdue=overdue, trigger=trigger,
    )  # fmt: skip
    emit(result, fmt, render_queue)


def render_claim(item: Any) -> Any:
    """The Rich view of a claimed queue item."""
    from rich.text import Text

    return Text(
        f"{item.player_id} ({item.risk_category}, {item.composite_risk_score:.3f}) is yours "
        f"until {when(item.claim_expires_at)}: sentinel analyze {item.player_id}"
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(analyze)
    app.command()(queue)
