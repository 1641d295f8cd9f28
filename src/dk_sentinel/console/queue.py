"""The review queue page, and claiming the next player from it."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from dk_sentinel.console.rendering import (
    PAGE_SIZE,
    ConsoleRoute,
    blank_is_none,
    page_links,
    render,
    see_other,
)
from dk_sentinel.console.session import (
    Signed,
    check_csrf,
)
from dk_sentinel.errors import InsufficientData, UsageError
from dk_sentinel.models import Queue
from dk_sentinel.vocabulary import QUEUE_CATEGORIES, QueueCategory
from dk_sentinel.web.deps import App, Offset, page

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    session: Signed,
    app: App,
    start: Offset,
    category: QueueCategory = "HIGH",
    state: Annotated[str | None, Query(max_length=2)] = None,
    overdue: bool = False,
    trigger: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The review queue, highest risk first, with filters and cursor paging."""
    state, trigger = blank_is_none(state), blank_is_none(trigger)
    try:
        full = app.players.queue(
            min_category=category, state=state.upper() if state else None, overdue=overdue,
            trigger=trigger, limit=PAGE_SIZE + 1, offset=start,
        )  # fmt: skip
    except InsufficientData:  # never scored: the page says so ("Nothing scored yet")
        full = Queue(run_id=None, as_of=None, min_category=category, items=[])
    items, next_cursor = page(full.items, start, PAGE_SIZE)
    filters = {"category": category, "state": state or "", "trigger": trigger or ""}
    if overdue:
        filters["overdue"] = "true"
    return render(
        request, "queue.html", session=session, queue=full, items=items, filters=filters,
        categories=QUEUE_CATEGORIES, now=app.clock(),
        **page_links("/queue", filters, start, next_cursor),
    )  # fmt: skip


@router.post("/queue/claim", response_class=HTMLResponse)
def claim(
    request: Request,
    session: Signed,
    app: App,
    csrf_token: Annotated[str, Form()],
    category: Annotated[str, Form()] = "HIGH",
) -> Response:
    """Claim the first player of the queue nobody else is working; open their page."""
    check_csrf(session.csrf, csrf_token)
    session.require("analyst")
    if category not in QUEUE_CATEGORIES:
        raise UsageError(f"unknown category {category!r}", f"Use {', '.join(QUEUE_CATEGORIES)}.")
    item = app.players.claim(session.key.analyst_id, min_category=cast(QueueCategory, category))
    return see_other(f"/players/{item.player_id}?done=claimed:{item.player_id}")
