"""Interventions from the console: recorded on a player's page, cancelled from it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dk_sentinel.console.players import player_page
from dk_sentinel.console.rendering import ConsoleRoute, FormText, OptionalText, see_other
from dk_sentinel.console.session import (
    Signed,
    check_csrf,
)
from dk_sentinel.errors import ConflictError, UsageError
from dk_sentinel.web.deps import App

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


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
