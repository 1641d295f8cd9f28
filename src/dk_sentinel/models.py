"""Pydantic models that cross a boundary: CLI JSON output, LLM output, library results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Category = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
COMPONENTS = ("loss_chase", "bet_escalation", "market_drift", "temporal_risk", "gamalyze")
Component = Literal["loss_chase", "bet_escalation", "market_drift", "temporal_risk", "gamalyze"]


class BatchRun(BaseModel):
    """One ``sentinel score-batch`` run (a row of ``scoring_runs``)."""

    run_id: str
    status: Literal["running", "success", "skipped", "tests_failed", "failed"]
    started_at: datetime
    finished_at: datetime | None = None
    as_of: datetime
    watermark: datetime | None = None
    new_bets: int = 0
    players_scored: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    scoring_version: str | None = None
    error: str | None = Field(default=None, description="Why the run failed or was skipped")

    @property
    def seconds(self) -> float | None:
        """Wall time of the run."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
