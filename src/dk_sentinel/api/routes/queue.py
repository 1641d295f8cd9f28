"""``GET /api/queue``: the review queue, paginated by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dk_sentinel.api.schemas import ClaimBody, QueuePage
from dk_sentinel.models import STATE_PATTERN, QueueItem
from dk_sentinel.vocabulary import QueueCategory
from dk_sentinel.web.deps import Analyst, App, Offset, Viewer, page
from dk_sentinel.web.problems import KEYED, responses

router = APIRouter(tags=["analytics"])


@router.get("/api/queue", responses=responses(*KEYED))
def queue(
    key: Viewer,
    app: App,
    start: Offset,
    category: QueueCategory = "HIGH",
    state: Annotated[str | None, Query(json_schema_extra={"pattern": STATE_PATTERN})] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    overdue: bool = False,
    trigger: Annotated[str | None, Query(max_length=40)] = None,
) -> QueuePage:
    """The CLI's review queue, paginated by cursor."""
    full = app.players.queue(
        min_category=category, state=state, limit=limit + 1, offset=start, overdue=overdue,
        trigger=trigger,
    )  # fmt: skip
    items, next_cursor = page(full.items, start, limit)
    return QueuePage(run_id=full.run_id, as_of=full.as_of, min_category=full.min_category,
                     items=items, next_cursor=next_cursor)  # fmt: skip


@router.post("/api/queue/claim", responses=responses(*KEYED, 400, 404))
def claim(body: ClaimBody, key: Analyst, app: App) -> QueueItem:
    """Claim the first player of the queue nobody else is working (404: none left)."""
    return app.players.claim(key.analyst_id, min_category=body.category, state=body.state,
                             overdue=body.overdue, trigger=body.trigger)  # fmt: skip
