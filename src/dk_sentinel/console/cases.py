"""The cases list and a case's actions (contact attempts, contest, reopen, assign, note, close)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from dk_sentinel.console.players import player_page
from dk_sentinel.console.rendering import (
    PAGE_SIZE,
    ConsoleRoute,
    blank_is_none,
    local_path,
    page_links,
    render,
    see_other,
)
from dk_sentinel.console.session import (
    Signed,
    check_csrf,
)
from dk_sentinel.errors import ConflictError, UsageError
from dk_sentinel.usecases import CaseState, ContactResult
from dk_sentinel.vocabulary import CASE_STATES, CONTACT_RESULTS
from dk_sentinel.web.deps import App, Offset, page

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
def cases(
    request: Request,
    session: Signed,
    app: App,
    start: Offset,
    state: Annotated[str | None, Query(max_length=20)] = None,
    overdue: bool = False,
    jurisdiction: Annotated[str | None, Query(max_length=2)] = None,
    trigger: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """Cases, most urgent first, with the regulatory clock; 50 a page, paged by cursor."""
    state, jurisdiction = blank_is_none(state), blank_is_none(jurisdiction)
    trigger = blank_is_none(trigger)
    if state is not None and state not in CASE_STATES:  # "any" in the form sends state=
        raise UsageError(f"unknown case state {state!r}", f"Use {', '.join(CASE_STATES)}.")
    listed = app.cases.find(
        state=cast(CaseState | None, state), overdue=overdue, trigger=trigger,
        limit=PAGE_SIZE + 1, offset=start,
        jurisdiction=jurisdiction.upper() if jurisdiction else None,
    )  # fmt: skip
    shown, next_cursor = page(listed, start, PAGE_SIZE)
    filters = {"state": state or "", "jurisdiction": jurisdiction or "", "trigger": trigger or ""}
    if overdue:
        filters["overdue"] = "true"
    return render(
        request, "cases.html", session=session, cases=shown, filters=filters,
        states=CASE_STATES, **page_links("/cases", filters, start, next_cursor),
    )  # fmt: skip


@router.post("/cases/{case_id}/contact", response_class=HTMLResponse)
def contact(
    request: Request,
    session: Signed,
    app: App,
    case_id: str,
    csrf_token: Annotated[str, Form()],
    result: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    back: Annotated[str | None, Form()] = None,
    confirm_suspension: Annotated[bool, Form()] = False,
) -> Response:
    """Log a contact attempt on a case; the one that suspends the account must be confirmed.

    Without the confirmation box the page comes back (409) saying so, nothing recorded.
    """
    check_csrf(session.csrf, csrf_token)
    session.require("analyst")
    if result not in CONTACT_RESULTS:
        raise UsageError(f"unknown contact result {result!r}", f"Use {', '.join(CONTACT_RESULTS)}.")
    outcome = cast(ContactResult, result)
    try:
        case = app.cases.contact(case_id, outcome, note, session.key.analyst_id,
                                 confirm_suspension=confirm_suspension)  # fmt: skip
    except (UsageError, ConflictError) as exc:
        return _refused(request, app, session, case_id, f"Contact: {exc.message}", exc)
    target = local_path(back, f"/players/{case.player_id}")
    joiner = "&" if "?" in target else "?"
    return see_other(f"{target}{joiner}done=contact:{case.state}")


@router.post("/cases/{case_id}/change", response_class=HTMLResponse)
def change(
    request: Request,
    session: Signed,
    app: App,
    case_id: str,
    csrf_token: Annotated[str, Form()],
    action: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
) -> Response:
    """Note, contest, reopen or assign a case from the player page (each audited)."""
    check_csrf(session.csrf, csrf_token)
    session.require("analyst")
    analyst = session.key.analyst_id
    changes = {
        "note": lambda: app.cases.note(case_id, text, analyst),
        "contest": lambda: app.cases.contest(case_id, text, analyst),
        "reopen": lambda: app.cases.reopen(case_id, text, analyst),
        "assign": lambda: app.cases.assign(case_id, text, analyst),
    }
    if action not in changes:
        raise UsageError(f"unknown case action {action!r}", f"Use {', '.join(changes)}.")
    try:
        case = changes[action]()
    except (UsageError, ConflictError) as exc:
        return _refused(request, app, session, case_id, f"Case: {exc.message}", exc)
    return see_other(f"/players/{case.player_id}?done=case:{case.state}")


def _refused(
    request: Request, app: App, session: Signed, case_id: str, error: str, exc: Exception
) -> Response:
    """The case's player page again, saying why the action was refused (409 or 422)."""
    status = 409 if isinstance(exc, ConflictError) else 422
    player_id = app.cases.get(case_id).player_id
    return player_page(request, app, session, player_id, status_code=status, error=error)
