"""Reports: the compliance report and one jurisdiction's regulator report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import (
    Format,
    FormatOpt,
    category_text,
    emit,
    info,
    when,
)
from dk_sentinel.vocabulary import CATEGORIES


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


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(report_app, name="report")
