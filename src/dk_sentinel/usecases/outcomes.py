"""Outcomes.

Past scores against later outcomes (backtest), and a scoring profile fitted on them (calibrate).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from dk_sentinel.errors import InsufficientData
from dk_sentinel.outcomes.backtest import (
    BacktestReport,
    LabelledScores,
    backtest,
    count_outcomes,
    labelled_scores,
)
from dk_sentinel.outcomes.calibration import (
    FEATURE_COLUMNS,
    CalibrationReport,
    activate_profile,
    fit_profile,
    store_profile,
)

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import Progress, UseCases
from dk_sentinel.usecases.scoring import Scoring


class Outcomes(UseCases):
    """``sentinel backtest`` and ``calibrate``."""

    def backtest(
        self,
        *,
        horizon_days: int | None = None,
        since: date | None = None,
        until: date | None = None,
        capacity: int | None = None,
        replay_days: int | None = None,
        progress: Progress = None,
    ) -> BacktestReport:
        """``sentinel backtest``: past scores (optionally replayed first) against later outcomes.

        Raises:
            InsufficientData: No scoring run is old enough for its outcome window to have
                closed (a demo or a new warehouse): nothing to measure, said so, not an empty
                report.
        """
        if replay_days:
            Scoring(self.context).replay(replay_days, horizon_days=horizon_days, progress=progress)
        with self.connect() as wh:
            data = labelled_scores(
                wh, self.settings, horizon_days=horizon_days, since=since, until=until
            )
        if data.rows == 0:
            horizon = horizon_days or self.settings.outcomes.horizon_days
            raise InsufficientData(
                f"no scoring run is at least {horizon} days older than the latest outcome "
                "data, so nothing can be measured yet",
                "Replay past as-ofs first: `sentinel backtest --replay 7` (or wait for the "
                "outcome window of today's runs to close).",
            )
        return backtest(data, capacity=capacity or self.settings.queue.daily_capacity)

    def calibrate(
        self,
        *,
        horizon_days: int | None = None,
        folds: int = 5,
        apply: bool = False,
        replay_days: int | None = None,
        progress: Progress = None,
    ) -> CalibrationReport:
        """``sentinel calibrate``: fit, validate and store a scoring profile (``apply``: use it).

        The labelled rows are every observed run's scores (live and replayed). When they hold
        fewer positives than ``[outcomes] min_positives`` and no ``replay_days`` was given, past
        as-ofs are replayed first every ``[outcomes] replay_every_days`` days, so an operator with
        outcomes but no score history can calibrate at once.

        Raises:
            InsufficientData: Too few harmful outcomes even after replaying.
        """
        say = progress or (lambda _msg: None)
        o = self.settings.outcomes
        with self.connect() as wh:
            harmful = count_outcomes(wh, o.harmful_event_types)
        if harmful < o.min_positives:  # replaying cannot find what is not there
            raise InsufficientData(
                f"too few harmful outcomes to calibrate on: {harmful} held "
                f"({', '.join(o.harmful_event_types)}); at least {o.min_positives} are needed",
                "Load the operator's outcomes with `sentinel ingest outcomes FILE`; until then "
                "the scores work as before, without risk_probability.",
            )

        def labelled() -> LabelledScores:
            with self.connect() as wh:
                return labelled_scores(
                    wh, self.settings, horizon_days=horizon_days, columns=FEATURE_COLUMNS,
                    later_outcomes="leave_out",
                )  # fmt: skip

        data = None if replay_days else labelled()
        if data is None or data.positives < o.min_positives:
            every = replay_days or o.replay_every_days
            Scoring(self.context).replay(every, horizon_days=horizon_days, progress=progress)
            data = labelled()
        say(f"fitting on {data.rows:,} rows ({data.positives:,} positive), {folds} folds")
        report, fitted = fit_profile(
            data, folds=folds, regularisation=o.regularisation, min_positives=o.min_positives
        )
        with self.connect() as wh:
            report = store_profile(wh, report, fitted, now=self.clock())
            if apply:
                activate_profile(wh, report.profile_version, now=self.clock())
                report.applied = True
        return report
