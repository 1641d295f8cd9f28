"""Reports: the compliance summary and one jurisdiction's regulator report."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dk_sentinel.analysis.regulator import RegulatorReport, regulator_report, write_report
from dk_sentinel.analysis.reporting import (
    Report,
    report,
)

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import UseCases


class Reports(UseCases):
    """``sentinel report`` and ``report regulator``."""

    def compliance(self) -> Report:
        """``sentinel report``: categories, states, interventions and SLA breaches."""
        with self.connect() as wh:
            return report(wh, now=self.clock())

    def regulator(
        self, jurisdiction: str, since: datetime, until: datetime, out: Path | None = None
    ) -> RegulatorReport:
        """``sentinel report regulator``: one jurisdiction over a period, written to ``out``.

        ``until`` at midnight (a date) includes that whole day.

        Raises:
            UsageError: A bad jurisdiction, an empty period or an unknown file suffix.
        """
        if until == until.replace(hour=0, minute=0, second=0, microsecond=0):
            until += timedelta(days=1)
        with self.connect() as wh:
            result = regulator_report(wh, jurisdiction, since, until, self.clock())
        if out is not None:
            write_report(result, out)
        return result
