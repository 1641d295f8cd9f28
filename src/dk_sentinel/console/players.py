"""The player page: assessment, evidence, history, bets, money, interventions, audit, cases."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dk_sentinel.console.charts import history_chart
from dk_sentinel.console.rendering import ConsoleRoute, render
from dk_sentinel.console.session import (
    Signed,
)
from dk_sentinel.usecases import PlayerFile, Sentinel
from dk_sentinel.vocabulary import INTERVENTION_TYPES
from dk_sentinel.web.deps import App

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


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
