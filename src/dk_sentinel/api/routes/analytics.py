"""``POST /api/analytics/analyze-player``: the brief's analysis with an explanation."""

from __future__ import annotations

from fastapi import APIRouter

from dk_sentinel.api.schemas import AnalyzeRequest
from dk_sentinel.models import RiskAssessment
from dk_sentinel.web.deps import App, Viewer
from dk_sentinel.web.problems import KEYED, responses

router = APIRouter(tags=["analytics"])


@router.post("/api/analytics/analyze-player", responses=responses(*KEYED, 400, 404))
def analyze_player(body: AnalyzeRequest, key: Viewer, app: App) -> RiskAssessment:
    """The player's assessment with an explanation (AI, or the rules: explanation_source)."""
    return app.players.analyze(
        body.player_id, with_history=body.include_history, explain=True,
        nudge=body.generate_nudge,
    )  # fmt: skip
