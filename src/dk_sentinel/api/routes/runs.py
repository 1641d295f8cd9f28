"""``/api/runs`` (scoring runs) and ``POST /api/score-batch`` (a run in the background)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dk_sentinel.api.schemas import RunsPage
from dk_sentinel.usecases import RunStarted
from dk_sentinel.web.deps import Admin, App, Offset, Runtime, Viewer, page
from dk_sentinel.web.problems import KEYED, responses

router = APIRouter(tags=["scoring"])


@router.get("/api/runs", responses=responses(*KEYED))
def runs(
    key: Viewer, app: App, start: Offset, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> RunsPage:
    """Scoring runs, newest first, paginated by cursor."""
    items, next_cursor = page(app.scoring.runs(limit + 1, start), start, limit)
    return RunsPage(items=items, next_cursor=next_cursor)


@router.post("/api/score-batch", status_code=202, responses=responses(*KEYED, 409))
def score_batch(key: Admin, runtime: Runtime) -> RunStarted:
    """Start a scoring run in the background (409 while one runs)."""
    return runtime.start_scoring()
