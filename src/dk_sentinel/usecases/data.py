"""Data in and out.

Synthetic files generated, contract files loaded, scores and interventions exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dk_sentinel.analysis.reporting import (
    ExportKind,
    ExportResult,
    export,
)
from dk_sentinel.ingest import IngestResult, Kind, ingest
from dk_sentinel.warehouse.jobs import exclusive_job

if TYPE_CHECKING:
    from dk_sentinel.synthetic.generator import Families, GenerateResult

from dk_sentinel.usecases.context import Progress, UseCases


class Data(UseCases):
    """``sentinel generate``, ``ingest`` and ``export``."""

    @staticmethod
    def generate(
        out: Path,
        players: int,
        days: int,
        seed: int,
        as_of: datetime | None,
        file_format: Literal["csv", "parquet"] = "csv",
        families: Families = "core",
        season_shift: bool = False,
        holiday: bool = False,
        prevalence: float | None = None,
    ) -> GenerateResult:
        """``sentinel generate``: synthetic contract files with ground-truth labels."""
        from dk_sentinel.synthetic.generator import (
            generate,
        )  # NumPy (~0.1 s) only for the commands that generate

        return generate(
            out, players, days, seed, as_of, file_format, families, season_shift,
            holiday=holiday, prevalence=prevalence,
        )  # fmt: skip

    def load(
        self,
        kind: Kind,
        paths: Sequence[str | Path],
        *,
        rejects_out: Path | None = None,
        progress: Progress = None,
        dry_run: bool = False,
    ) -> IngestResult:
        """``sentinel ingest``: validate and load contract files; rejected rows are kept.

        With ``dry_run``, validate and count against the warehouse, and write nothing.

        Loads of one kind take turns, on any host (the ``ingest:<kind>`` lease): a load waits
        for a running one up to ``[warehouse] busy_timeout_seconds``, so overlapping files
        give each id once.
        """
        with self.connect() as wh, exclusive_job(
            self.settings, f"ingest:{kind}", "Wait for the other load, then load again.",
            wh=wh, wait_seconds=self.settings.warehouse.busy_timeout_seconds,
        ) as lease:  # fmt: skip
            return ingest(
                wh, kind, paths, rejects_out=rejects_out, progress=progress,
                max_future_minutes=self.settings.ingest.max_future_minutes, dry_run=dry_run,
                fence=lease.fence,
            )  # fmt: skip

    def export(
        self,
        kind: ExportKind,
        out: str,
        *,
        category: str | None = None,
        pending_delivery: bool = False,
        history: bool = False,
    ) -> ExportResult:
        """``sentinel export``: scores or interventions to a file (``-``: rows in ``records``)."""
        with self.connect() as wh:
            return export(
                wh, kind, out, category=category, pending_delivery=pending_delivery,
                history=history,
            )  # fmt: skip
