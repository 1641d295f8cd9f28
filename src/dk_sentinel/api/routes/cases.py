"""``/api/cases``: the regulatory cases.

List (paged), read, contact, correct, contest, reopen, assign, note, close.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dk_sentinel.api.schemas import (
    AssignBody,
    CasesPage,
    CloseBody,
    ContactBody,
    CorrectionBody,
    NoteBody,
    ReasonBody,
)
from dk_sentinel.usecases import Case, CaseState
from dk_sentinel.web.deps import Analyst, App, Offset, Viewer, page
from dk_sentinel.web.problems import KEYED, responses

router = APIRouter(tags=["cases"])


@router.get("/api/cases", responses=responses(*KEYED))
def list_cases(
    key: Viewer,
    app: App,
    start: Offset,
    state: CaseState | None = None,
    overdue: bool = False,
    jurisdiction: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    trigger: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CasesPage:
    """Cases, most urgent first, filtered, paginated by cursor (as the queue)."""
    rows = app.cases.find(
        state=state, overdue=overdue, jurisdiction=jurisdiction, trigger=trigger,
        limit=limit + 1, offset=start,
    )  # fmt: skip
    items, next_cursor = page(rows, start, limit)
    return CasesPage(items=items, next_cursor=next_cursor)


@router.get("/api/cases/{case_id}", responses=responses(*KEYED, 404))
def get_case(case_id: str, key: Viewer, app: App) -> Case:
    """One case with its audit trail."""
    return app.cases.get(case_id)


@router.post("/api/cases/{case_id}/contact", responses=responses(*KEYED, 400, 404, 409))
def contact(case_id: str, body: ContactBody, key: Analyst, app: App) -> Case:
    """Log a contact attempt; the analyst is the key's (the suspending one must be confirmed)."""
    return app.cases.contact(case_id, body.result, body.note, key.analyst_id,
                             confirm_suspension=body.confirm_suspension)  # fmt: skip


@router.post("/api/cases/{case_id}/correct", responses=responses(*KEYED, 400, 404, 409))
def correct(case_id: str, body: CorrectionBody, key: Analyst, app: App) -> Case:
    """Withdraw a contact attempt logged by mistake (audited; it stops counting)."""
    return app.cases.correct_contact(case_id, body.event_id, body.reason, key.analyst_id)


@router.post("/api/cases/{case_id}/close", responses=responses(*KEYED, 400, 404, 409))
def close(case_id: str, body: CloseBody, key: Analyst, app: App) -> Case:
    """Close a case once the player has been clear for the pack's clear days (else 409)."""
    return app.cases.close(case_id, body.reason, key.analyst_id)


@router.post("/api/cases/{case_id}/contest", responses=responses(*KEYED, 400, 404, 409))
def contest(case_id: str, body: ReasonBody, key: Analyst, app: App) -> Case:
    """Mark a case contested (the trigger is disputed), with why."""
    return app.cases.contest(case_id, body.reason, key.analyst_id)


@router.post("/api/cases/{case_id}/reopen", responses=responses(*KEYED, 400, 404, 409))
def reopen(case_id: str, body: ReasonBody, key: Analyst, app: App) -> Case:
    """Reopen a closed case, with why (409 when the player has another open case)."""
    return app.cases.reopen(case_id, body.reason, key.analyst_id)


@router.post("/api/cases/{case_id}/assign", responses=responses(*KEYED, 400, 404, 409))
def assign(case_id: str, body: AssignBody, key: Analyst, app: App) -> Case:
    """Assign a case to an analyst."""
    return app.cases.assign(case_id, body.analyst_id, key.analyst_id)


@router.post("/api/cases/{case_id}/note", responses=responses(*KEYED, 400, 404, 409))
def note(case_id: str, body: NoteBody, key: Analyst, app: App) -> Case:
    """Add a note to a case's audit trail (no contact attempt)."""
    return app.cases.note(case_id, body.note, key.analyst_id)
