"""The analyst's commands: analyze, queue, intervene, interventions, export, report, schema."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import (
    AnalystOpt,
    Format,
    FormatOpt,
    PlayerIdArg,
    category_text,
    emit,
    info,
    when,
)
from dk_sentinel.models import (
    CATEGORIES,
    Category,
    InterventionType,
    QueueCategory,
    probability_phrase,
)

interventions_app = typer.Typer(help="List and cancel interventions.", no_args_is_help=True)
export_app = typer.Typer(
    help="Export scores or interventions to CSV, Parquet or JSON.", no_args_is_help=True
)


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


def render_report(r: Any) -> list[Any]:
    """The Rich view of the report."""
    from rich.table import Table
    from rich.text import Text

    cats = Table(
        "category",
        "players",
        "previous run",
        "change",
        title=f"players by category (run {r.run_id})",
    )
    for c in r.by_category:
        change = (
            "-" if c.previous_run_players is None else f"{c.players - c.previous_run_players:+d}"
        )
        prev = "-" if c.previous_run_players is None else str(c.previous_run_players)
        cats.add_row(category_text(c.risk_category), str(c.players), prev, change)
    states = Table("state", *CATEGORIES, title="players by state")
    for code, counts in r.by_state.items():
        states.add_row(code, *(str(counts.get(c, 0)) for c in CATEGORIES))
    inter = Table("type", "7 days", "30 days", title="interventions (by status)")
    for kind in sorted(set(r.interventions_7d) | set(r.interventions_30d)):
        fmt7 = ", ".join(f"{k} {v}" for k, v in r.interventions_7d.get(kind, {}).items()) or "-"
        fmt30 = ", ".join(f"{k} {v}" for k, v in r.interventions_30d.get(kind, {}).items()) or "-"
        inter.add_row(kind, fmt7, fmt30)
    sla = Text(
        f"Queue (HIGH and above): {r.queue_open} open, {r.queue_sla_breaches} past their SLA."
    )
    regulators = Table(title="Jurisdictions: triggers and cases")
    for name in (
        "state",
        "pack",
        "triggers fired",
        "cases",
        "open",
        "overdue",
        "contacts",
        "suspended",
        "first action h (median/p90)",
        "flagged",
        "flag missing",
    ):
        regulators.add_column(name, overflow="fold")
    for j in r.jurisdictions:
        fired = ", ".join(f"{code} {n}" for code, n in j.triggers_fired.items()) or "-"
        waits = (f"{j.first_action_hours_median:.1f} / {j.first_action_hours_p90:.1f}"
                 if j.first_action_hours_median is not None else "-")  # fmt: skip
        regulators.add_row(j.jurisdiction, j.pack or "-", fired, str(j.cases_opened),
                           str(j.cases_open), str(j.cases_overdue), str(j.contact_attempts),
                           str(j.suspensions), waits, str(j.flagged_players),
                           str(j.flagged_payloads_without_no_marketing))  # fmt: skip
    return [cats, states, inter, sla, regulators]


def render_intervention_report(r: Any) -> list[Any]:
    """The Rich view of ``report --interventions``."""
    from rich.table import Table
    from rich.text import Text

    def num(value: float | None, spec: str = "+.3f") -> str:
        return "-" if value is None else format(value, spec)

    types = Table(
        "type", "count", "score change 7d (n)", "30d (n)", "bets 7d before -> after",
        "staked 7d before -> after", "later outcomes", title="interventions: what followed",
    )  # fmt: skip
    for t in r.by_type:
        types.add_row(
            t.intervention_type, str(t.count), f"{num(t.mean_change_7d)} ({t.with_7d_score})",
            f"{num(t.mean_change_30d)} ({t.with_30d_score})",
            f"{t.mean_bets_7d_before:.1f} -> {num(t.mean_bets_7d_after, '.1f')} "
            f"({t.with_7d_after})",
            f"{t.mean_staked_7d_before:,.0f} -> {num(t.mean_staked_7d_after, ',.0f')}",
            str(t.later_outcomes),
        )  # fmt: skip
    parts: list[Any] = [types, Text(r.note, style="dim")]
    if r.timeouts_not_honoured:
        breaches = Table(
            "intervention", "player", "timeout (UTC)", "bets", "staked", "first bet",
            title="[red]timeouts not honoured: bets placed during an active timeout[/]",
        )  # fmt: skip
        for b in r.timeouts_not_honoured:
            breaches.add_row(
                b.intervention_id, b.player_id,
                f"{when(b.timeout_from)} -> {when(b.timeout_until)}",
                str(b.bets), f"{b.staked:,.2f}", when(b.first_bet_at),
            )  # fmt: skip
        parts.append(breaches)
    else:
        parts.append(Text("Timeouts not honoured: none (no bet during an active timeout)."))
    return parts


report_app = typer.Typer(
    invoke_without_command=True,
    help="Compliance report: categories, states, change since last run, interventions, SLA "
    "breaches; `report regulator` writes one jurisdiction's report for a period as a file.",
)


@report_app.command("regulator")
def report_regulator(
    ctx: typer.Context,
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="Two letters, e.g. NJ.")],
    since: Annotated[datetime, typer.Option("--since", help="Start of the period (UTC).")],
    until: Annotated[
        datetime, typer.Option("--until", help="End of the period (UTC; that day included).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the report here (.csv, .json or .html).", show_default=False
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """The regulator's report: triggers, cases, contacts, suspensions, time to first action."""
    result = state(ctx).app.reports.regulator(jurisdiction, since, until, out)
    if out is not None:
        info(f"wrote {out}")
    emit(result, fmt, render_regulator)


def render_regulator(r: Any) -> Any:
    """The Rich view of the regulator's report."""
    from rich.table import Table

    table = Table("section", "item", "value", title=f"regulator's report {r.jurisdiction}")
    for row in r.rows():
        table.add_row(*row)
    return table


@report_app.callback()
def report(
    ctx: typer.Context,
    interventions: Annotated[
        bool,
        typer.Option(
            "--interventions",
            help="What followed each intervention, by type; timeouts not honoured.",
        ),
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Compliance report: categories, states, change since last run, interventions, SLA breaches."""
    if ctx.invoked_subcommand is not None:
        return
    if interventions:
        emit(state(ctx).app.interventions.effect(), fmt, render_intervention_report)
        return
    emit(state(ctx).app.reports.compliance(), fmt, render_report)


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
        from dk_sentinel.api import create_app
        from dk_sentinel.config import load_settings

        document = create_app(load_settings()).openapi()
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    from dk_sentinel import models, usecases

    model = getattr(models, name.value, None) or getattr(usecases, name.value)
    # the validation schema: the same JSON, with every property typed (the serialization one
    # is untyped, through the wildcard serializer that writes timestamps as RFC 3339)
    sys.stdout.write(json.dumps(model.model_json_schema(mode="validation"), indent=2) + "\n")


def register(app: typer.Typer) -> None:
    """Attach the analyst commands to the root app."""
    app.command()(analyze)
    app.command()(queue)
    app.command()(intervene)
    app.add_typer(interventions_app, name="interventions")
    app.add_typer(export_app, name="export")
    app.add_typer(report_app, name="report")
    app.command()(schema)
