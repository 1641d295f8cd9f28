"""``GET /api/players/{player_id}/risk``: the latest assessment, cacheable by ETag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from dk_sentinel.models import PLAYER_ID_PATTERN, RiskAssessment
from dk_sentinel.web.deps import App, Viewer
from dk_sentinel.web.problems import KEYED, responses

router = APIRouter(tags=["analytics"])


@router.get("/api/players/{player_id}/risk", responses=responses(*KEYED, 304, 404))
def player_risk(
    player_id: Annotated[str, Path(json_schema_extra={"pattern": PLAYER_ID_PATTERN})],
    key: Viewer,
    app: App,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> RiskAssessment | None:
    """The latest assessment, read-only; ETag per scoring run (If-None-Match -> 304)."""
    assessment = app.players.analyze(player_id)
    etag = f'"{assessment.run_id}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})  # type: ignore[return-value]
    response.headers["ETag"] = etag
    return assessment
