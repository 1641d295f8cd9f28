"""Scoring runs: one run under the lease (then the cases it opens), the run list, replays."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dk_sentinel.interventions.cases import (
    open_or_update,
)
from dk_sentinel.models import (
    BatchRun,
)
from dk_sentinel.outcomes.backtest import (
    replay_as_ofs,
)
from dk_sentinel.scoring import DbtCommand, list_runs, score_batch
from dk_sentinel.scoring.dbt import run_dbt

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import Progress, UseCases


class Scoring(UseCases):
    """``sentinel score-batch``, ``runs`` and the replays of backtest and calibrate."""

    def run(
        self,
        *,
        as_of: datetime | None = None,
        full_refresh: bool = False,
        progress: Progress = None,
        run_id: str | None = None,
        dbt: DbtCommand = run_dbt,
    ) -> BatchRun:
        """``sentinel score-batch``: one scoring run under the lock (it opens what it needs).

        A successful live run then opens or updates the cases of its flagged players (a fired
        jurisdiction trigger, or HIGH+).
        """
        run = score_batch(
            self.settings, as_of=as_of, full_refresh=full_refresh, progress=progress,
            run_id=run_id, dbt=dbt, connections=self.connections,
        )  # fmt: skip
        if run.status == "success" and run.kind == "live":
            q = self.settings.queue
            sla = {"CRITICAL": q.sla_hours_critical, "HIGH": q.sla_hours_high}
            with self.connect() as wh:
                open_or_update(wh, run.run_id, run.as_of, sla, self.clock())
        return run

    def runs(self, limit: int = 20, offset: int = 0) -> list[BatchRun]:
        """``sentinel runs``: the latest scoring runs, newest first (a page from ``offset``)."""
        with self.connect() as wh:
            return list_runs(wh, limit, offset)

    def replay(
        self,
        every_days: int,
        *,
        horizon_days: int | None = None,
        max_runs: int | None = None,
        progress: Progress = None,
    ) -> list[BatchRun]:
        """Score past as-ofs (every ``every_days`` back over the bets held) as replay runs.

        Replays use the same dbt models and land in the score history as runs of kind
        ``replay``: backtests and calibration read them; analysts never see them as latest.

        Raises:
            InsufficientData: The history is too short for one observed as-of.
            PartialFailure | ScoringError: A replay run failed (the ones before it are kept).
        """
        say = progress or (lambda _msg: None)
        horizon = horizon_days or self.settings.outcomes.horizon_days
        with self.connect() as wh:
            as_ofs = replay_as_ofs(
                wh, self.settings, every_days, horizon_days=horizon,
                max_runs=max_runs or self.settings.outcomes.max_replays,
            )  # fmt: skip
        runs = []
        for n, as_of in enumerate(as_ofs, 1):
            say(f"replay {n}/{len(as_ofs)}: scoring as of {as_of:%Y-%m-%d %H:%M}")
            run = score_batch(
                self.settings, as_of=as_of, kind="replay", connections=self.connections
            )
            if (failure := run.failure()) is not None:
                raise failure
            runs.append(run)
        return runs
