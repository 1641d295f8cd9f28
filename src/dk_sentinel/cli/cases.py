"""`sentinel cases`: the regulatory cases.

List, show, contact, correct, contest, reopen, assign, note, close.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import AnalystOpt, Format, FormatOpt, emit, when

if TYPE_CHECKING:
    from rich.console import RenderableType

from dk_sentinel.vocabulary import CaseState, ContactResult  # the choices: one vocabulary

cases_app = typer.Typer(help="Regulatory cases: who is on the list, why, by when.",
                        no_args_is_help=True)  # fmt: skip


def render_cases(items: Any) -> RenderableType:
    """The cases as a table."""
    from rich.table import Table

    table = Table(title=f"{len(items)} case(s)")
    for name in ("case", "player", "jurisdiction", "state", "triggers", "due", "overdue"):
        table.add_column(name, overflow="fold")
    for c in items:
        table.add_row(c.case_id, c.player_id, c.jurisdiction, c.state, ", ".join(c.triggers),
                      when(c.due_at), "yes" if c.is_overdue else "")  # fmt: skip
    return table


def render_case(c: Any) -> RenderableType:
    """One case with its audit trail."""
    from rich.table import Table

    table = Table(title=f"{c.case_id}: {c.player_id} ({c.jurisdiction}, pack {c.pack or '-'}), "
                        f"{c.state}, due {when(c.due_at)}")  # fmt: skip
    for name in ("when", "event", "analyst", "detail"):
        table.add_column(name, overflow="fold")
    for e in c.events:
        detail = json.dumps(e.detail) if isinstance(e.detail, dict) else e.detail or ""
        table.add_row(when(e.occurred_at), e.event_type, e.analyst_id or "",
                      detail)  # fmt: skip
    return table


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    case_state: Annotated[
        CaseState | None, typer.Option("--state", help="Only this state.", show_default=False)
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue cases.")] = False,
    jurisdiction: Annotated[
        str | None,
        typer.Option("--jurisdiction", help="Two-letter state, e.g. NJ.", show_default=False),
    ] = None,
    trigger: Annotated[
        str | None,
        typer.Option("--trigger", help="A trigger code, e.g. NJ-DEP-24H.", show_default=False),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List cases, most urgent first."""
    items = state(ctx).app.cases.find(
        state=case_state,
        overdue=overdue, jurisdiction=jurisdiction, trigger=trigger,
    )  # fmt: skip
    emit(items, fmt, render_cases)


@cases_app.command("show")
def cases_show(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case id (CASE-...).")],
    fmt: FormatOpt = Format.table,
) -> None:
    """One case: its triggers, due time, contact attempts and audit trail."""
    emit(state(ctx).app.cases.get(case_id), fmt, render_case)


@cases_app.command("contact")
def cases_contact(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case id (CASE-...).")],
    result: Annotated[ContactResult, typer.Option("--result", help="What the attempt got.")],
    note: Annotated[str, typer.Option("--note", help="What was said or tried.")] = "",
    analyst: AnalystOpt = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            help="Confirm an attempt that suspends the account (the pack's "
            "last failed contact); without it such an attempt is refused, unrecorded.",
        ),
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Log a contact attempt (failed ones may suspend the account, per the pack)."""
    case = state(ctx).app.cases.contact(case_id, result, note, analyst,
                                        confirm_suspension=yes)  # fmt: skip
    emit(case, fmt, render_case)


@cases_app.command("correct")
def cases_correct(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case id (CASE-...).")],
    event_id: Annotated[
        str, typer.Option("--event", help="The contact attempt's event id (`sentinel cases show`).")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it was a mistake (at least 10 characters).")
    ],
    analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Withdraw a contact attempt logged by mistake (audited; it stops counting)."""
    emit(state(ctx).app.cases.correct_contact(case_id, event_id, reason, analyst), fmt, render_case)


@cases_app.command("close")
def cases_close(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case id (CASE-...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (at least 10 characters).")],
    analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Close a case (only once the player has been clear for the pack's clear days)."""
    emit(state(ctx).app.cases.close(case_id, reason, analyst), fmt, render_case)


ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (at least 10 characters).")]
CaseIdArg = Annotated[str, typer.Argument(help="The case id (CASE-...).")]


@cases_app.command("contest")
def cases_contest(
    ctx: typer.Context, case_id: CaseIdArg, reason: ReasonOpt, analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:  # fmt: skip
    """Mark a case contested: the player or the operator disputes the trigger."""
    emit(state(ctx).app.cases.contest(case_id, reason, analyst), fmt, render_case)


@cases_app.command("reopen")
def cases_reopen(
    ctx: typer.Context, case_id: CaseIdArg, reason: ReasonOpt, analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:  # fmt: skip
    """Reopen a closed case (its triggers and clock as they were)."""
    emit(state(ctx).app.cases.reopen(case_id, reason, analyst), fmt, render_case)


@cases_app.command("assign")
def cases_assign(
    ctx: typer.Context,
    case_id: CaseIdArg,
    to: Annotated[str, typer.Option("--to", help="The analyst who works the case from now on.")],
    analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Assign a case to an analyst."""
    emit(state(ctx).app.cases.assign(case_id, to, analyst), fmt, render_case)


@cases_app.command("note")
def cases_note(
    ctx: typer.Context,
    case_id: CaseIdArg,
    note: Annotated[str, typer.Option("--note", help="What happened (at most 500 characters).")],
    analyst: AnalystOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Add a note to a case's audit trail (no contact attempt)."""
    emit(state(ctx).app.cases.note(case_id, note, analyst), fmt, render_case)


def register(app: typer.Typer) -> None:
    """Attach `sentinel cases` to the root app."""
    app.add_typer(cases_app, name="cases")
