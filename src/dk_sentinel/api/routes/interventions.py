"""``/api/interventions``: record, list, read and cancel interventions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from dk_sentinel.api.schemas import CancelBody, InterventionBody, InterventionPage
from dk_sentinel.errors import PermissionDenied
from dk_sentinel.models import PLAYER_ID_PATTERN, Intervention
from dk_sentinel.vocabulary import InterventionType
from dk_sentinel.web.deps import Analyst, App, Offset, Viewer, page
from dk_sentinel.web.problems import KEYED, responses

router = APIRouter(tags=["interventions"])


@router.post("/api/interventions", status_code=201, responses=responses(*KEYED, 400, 404, 409))
def create_intervention(
    payload: InterventionBody,
    key: Analyst,
    app: App,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> Intervention:
    """Record an intervention; the analyst is the key's (a different analyst_id is 403)."""
    body = payload.root
    if body.analyst_id is not None and body.analyst_id != key.analyst_id:
        raise PermissionDenied(f"analyst_id {body.analyst_id!r} is not the analyst of this API key")
    item = app.interventions.record(
        player_id=body.player_id, intervention_type=body.intervention_type, reason=body.reason,
        analyst_id=key.analyst_id, duration_hours=body.duration_hours,
        idempotency_key=idempotency_key, supersede=body.supersede,
    )  # fmt: skip
    response.headers["Location"] = f"/api/interventions/{item.intervention_id}"
    return item


@router.get("/api/interventions", responses=responses(*KEYED))
def list_interventions(
    key: Viewer,
    app: App,
    start: Offset,
    player_id: Annotated[
        str | None, Query(json_schema_extra={"pattern": PLAYER_ID_PATTERN})
    ] = None,
    active: bool | None = None,
    intervention_type: InterventionType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InterventionPage:
    """Interventions, newest first, filtered and paginated by cursor."""
    found = app.interventions.find(
        player_id=player_id,
        active=active,
        intervention_type=intervention_type,
        limit=limit + 1,
        offset=start,
    )
    items, next_cursor = page(found, start, limit)
    return InterventionPage(items=items, next_cursor=next_cursor)


@router.get("/api/interventions/{intervention_id}", responses=responses(*KEYED, 404))
def get_intervention(intervention_id: str, key: Viewer, app: App) -> Intervention:
    """One intervention with its audit events."""
    return app.interventions.get(intervention_id)


@router.post(
    "/api/interventions/{intervention_id}/cancel", responses=responses(*KEYED, 400, 404, 409)
)
def cancel(intervention_id: str, body: CancelBody, key: Analyst, app: App) -> Intervention:
    """Cancel an active intervention (an audit event; nothing is deleted)."""
    return app.interventions.cancel(intervention_id, body.reason, key.analyst_id)
