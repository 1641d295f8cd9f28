"""``/api/cases``: the regulatory cases (list, read, log a contact, close)."""

from __future__ import annotations

from fastapi import APIRouter

from dk_sentinel.api.deps import Analyst, App, Viewer
from dk_sentinel.api.problems import KEYED, responses
from dk_sentinel.api.schemas import CloseBody, ContactBody, CorrectionBody
from dk_sentinel.usecases import Case, CaseState

router = APIRouter(tags=["cases"])


@router.get("/api/cases", responses=responses(*KEYED))
def list_cases(
    key: Viewer,
    app: App,
    state: CaseState | None = None,
    overdue: bool = False,
    jurisdiction: str | None = None,
    trigger: str | None = None,
) -> list[Case]:
    """Cases, most urgent first, filtered."""
    return app.cases(state=state, overdue=overdue, jurisdiction=jurisdiction, trigger=trigger)


@router.get("/api/cases/{case_id}", responses=responses(*KEYED, 404))
def get_case(case_id: str, key: Viewer, app: App) -> Case:
    """One case with its audit trail."""
    return app.case(case_id)


@router.post("/api/cases/{case_id}/contact", responses=responses(*KEYED, 400, 404, 409))
def contact(case_id: str, body: ContactBody, key: Analyst, app: App) -> Case:
    """Log a contact attempt; the analyst is the key's (the suspending one must be confirmed)."""
    return app.contact_case(case_id, body.result, body.note, key.analyst_id,
                            confirm_suspension=body.confirm_suspension)  # fmt: skip


@router.post("/api/cases/{case_id}/correct", responses=responses(*KEYED, 400, 404, 409))
def correct(case_id: str, body: CorrectionBody, key: Analyst, app: App) -> Case:
    """Withdraw a contact attempt logged by mistake (audited; it stops counting)."""
    return app.correct_contact(case_id, body.event_id, body.reason, key.analyst_id)


@router.post("/api/cases/{case_id}/close", responses=responses(*KEYED, 400, 404, 409))
def close(case_id: str, body: CloseBody, key: Analyst, app: App) -> Case:
    """Close a case once the player has been clear for the pack's clear days (else 409)."""
    return app.close_case(case_id, body.reason, key.analyst_id)
