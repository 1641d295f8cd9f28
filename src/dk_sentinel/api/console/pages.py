"""The console's sign-in and player pages, and the forms that act on a player."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dk_sentinel.api.console.charts import history_chart
from dk_sentinel.api.console.rendering import ConsoleRoute, local_path, render, see_other
from dk_sentinel.api.console.session import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Signed,
    check_csrf,
    end_session,
    new_signin_token,
    set_signin_cookie,
    start_session,
)
from dk_sentinel.api.deps import App
from dk_sentinel.errors import ConflictError, UsageError
from dk_sentinel.usecases import PlayerFile, Sentinel
from dk_sentinel.vocabulary import INTERVENTION_TYPES

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FormText = Annotated[str, Form()]
OptionalText = Annotated[str | None, Form()]


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    """The console starts at the queue."""
    return see_other("/queue")


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form (an API key, as for the API)."""
    token = new_signin_token()
    page = render(request, "signin.html", next=local_path(next), error=None, csrf=token)
    set_signin_cookie(page, token, request.url.scheme == "https")
    return page


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    api_key: FormText,
    csrf_token: FormText,
    next: OptionalText = None,
) -> Response:
    """Check the key; keep it in the session cookie and go on to ``next``."""
    check_csrf(request.cookies.get(SIGNIN_COOKIE, ""), csrf_token)
    state = request.app.state.sentinel
    key = state.authenticate(api_key.strip()) if api_key.strip() else None
    if key is None:
        error = "That key is not valid (or it was revoked)."
        return render(request, "signin.html", 401, next=local_path(next), error=error,
                      csrf=csrf_token)  # fmt: skip
    token = state.runtime.app.keys.start_session(key)  # the cookie never holds the key
    response = see_other(local_path(next))
    start_session(response, token, request.url.scheme == "https")
    return response


@router.post("/signout")
def signout(request: Request, session: Signed, csrf_token: FormText) -> RedirectResponse:
    """End the session: its token stops working here and on every worker."""
    check_csrf(session.csrf, csrf_token)
    token = request.cookies.get(SESSION_COOKIE, "")
    state = request.app.state.sentinel
    state.runtime.app.keys.end_session(token)
    state.forget(token)
    response = see_other("/signin")
    end_session(response)
    return response


#: What a form's redirect may announce (anything else in ``?done=`` is ignored: no spoofing).
_DONE = re.compile(
    f"({'|'.join((*INTERVENTION_TYPES, 'cancelled', 'contact', 'case', 'claimed'))})"
    f":[A-Za-z0-9_-]{{1,64}}"
)


def _done(value: str | None) -> str | None:
    return value if value and _DONE.fullmatch(value) else None


@dataclass(frozen=True)
class AuditEntry:
    """One line of a player's audit trail (an intervention's or a case's event)."""

    at: datetime
    kind: str
    subject: str
    analyst: str | None
    detail: str | None


def audit_trail(file: PlayerFile) -> list[AuditEntry]:
    """The player's intervention and case events in one list, newest first."""
    entries = [
        AuditEntry(e.occurred_at, e.event_type, f"{i.intervention_type} {i.intervention_id}",
                   e.analyst_id, e.detail)
        for i in file.interventions for e in i.events or []
    ] + [
        AuditEntry(e.occurred_at, e.event_type, f"case {c.case_id}", e.analyst_id,
                   json.dumps(e.detail) if isinstance(e.detail, dict) else e.detail)
        for c in file.cases for e in c.events
    ]  # fmt: skip
    return sorted(entries, key=lambda e: e.at, reverse=True)


def player_page(
    request: Request,
    app: Sentinel,
    session: Signed,
    player_id: str,
    *,
    explain: bool = False,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    """The player page, with a form's error and what was typed when there is one."""
    file = app.players.file(player_id)
    if explain:  # the explanation and nudge, from the model or the rules (cached when AI)
        file.assessment = app.players.explain(file.assessment, nudge=True)
    thresholds = app.settings.scoring.thresholds
    cutoffs = {"CRITICAL": float(thresholds.critical), "HIGH": float(thresholds.high),
               "MEDIUM": float(thresholds.medium)}  # fmt: skip
    chart = history_chart(file.assessment.history or [], file.interventions, file.outcomes, cutoffs)
    return render(
        request, "player.html", status_code, session=session, file=file, a=file.assessment,
        chart=chart, audit=audit_trail(file), error=error, form=form or {},
        types=INTERVENTION_TYPES, done=_done(request.query_params.get("done")),
        idempotency_key=uuid.uuid4().hex,
    )  # fmt: skip


@router.get("/players/{player_id}", response_class=HTMLResponse)
def player(
    request: Request, session: Signed, app: App, player_id: str, explain: bool = False
) -> HTMLResponse:
    """A player: the assessment, its evidence and history, and what was done."""
    return player_page(request, app, session, player_id, explain=explain)


@router.post("/players/{player_id}/interventions", response_class=HTMLResponse)
def record(
    request: Request,
    session: Signed,
    app: App,
    player_id: str,
    csrf_token: FormText,
    intervention_type: FormText,
    reason: FormText,
    idempotency_key: FormText,
    duration_hours: OptionalText = None,
    supersede: OptionalText = None,
) -> Response:
    """Record an intervention (the CLI's rules and messages; a double submit records once)."""
    check_csrf(session.csrf, csrf_token)
    session.require("analyst")
    form = {"intervention_type": intervention_type, "reason": reason,
            "duration_hours": duration_hours or ""}  # fmt: skip
    try:
        hours = int(duration_hours) if duration_hours and duration_hours.strip() else None
    except ValueError:
        return player_page(request, app, session, player_id, status_code=422, form=form,
                            error="duration_hours: must be a whole number of hours")  # fmt: skip
    try:
        made = app.interventions.record(
            player_id=player_id, intervention_type=intervention_type,  # type: ignore[arg-type]
            reason=reason, analyst_id=session.key.analyst_id, duration_hours=hours,
            idempotency_key=f"console:{session.key.key_id}:{idempotency_key}",
            supersede=supersede == "on",
        )  # fmt: skip
    except (UsageError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return player_page(request, app, session, player_id, status_code=status, form=form,
                            error=message)  # fmt: skip
    return see_other(f"/players/{player_id}?done={made.intervention_type}:{made.intervention_id}")


@router.post("/interventions/{intervention_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    session: Signed,
    app: App,
    intervention_id: str,
    csrf_token: FormText,
    reason: FormText,
) -> Response:
    """Cancel an active intervention (an audit event)."""
    check_csrf(session.csrf, csrf_token)
    session.require("analyst")
    item = app.interventions.get(intervention_id)
    try:
        app.interventions.cancel(intervention_id, reason, session.key.analyst_id)
    except (UsageError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return player_page(request, app, session, item.player_id, status_code=status,
                           error=f"Cancel: {exc.message}")  # fmt: skip
    return see_other(f"/players/{item.player_id}?done=cancelled:{intervention_id}")
