"""The resident scheduler of ``sentinel serve --schedule``: score-batch on a cron expression.

Each tick runs its job, the server's scoring use case: :func:`dk_sentinel.scoring.score_batch`
in this process, under the same scoring lock as cron's ``sentinel score-batch`` (so the two
never overlap: whichever comes second exits 75 or, here, skips the tick) and with dbt kept
loaded (:class:`~dk_sentinel.scoring.dbt.ResidentDbt`). A tick
missed while a run was still going is coalesced into the next one, never queued. Stopping
waits for a running batch up to a timeout; a batch cut short is repaired by the next run,
as after any interrupted run.

Expressions are croniter's, in UTC: five fields, or six with seconds last
(``"* * * * * */2"``: every 2 seconds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from dk_sentinel.errors import BusyError, SentinelError, UsageError
from dk_sentinel.models import BatchRun, Document

log = logging.getLogger(__name__)


class ScheduleStatus(Document):
    """What the scheduler did and will do (``GET /health``)."""

    expression: str
    next_run_at: datetime | None
    last_run_id: str | None = None
    last_status: str | None = None
    runs: int = 0
    coalesced_ticks: int = 0
    skipped_busy: int = 0


def validate_expression(expression: str) -> str:
    """Check a cron expression.

    Raises:
        UsageError: croniter cannot read it.
    """
    from croniter import croniter  # type: ignore[import-untyped,unused-ignore]

    if not croniter.is_valid(expression):
        raise UsageError(
            f"invalid schedule {expression!r}",
            'Use a cron expression such as "5 * * * *" (five past every hour).',
        )
    return expression


class Scheduler:
    """Runs a scoring job on a cron expression in a background thread."""

    def __init__(self, expression: str, job: Callable[[], BatchRun]) -> None:
        """Prepare (nothing runs until :meth:`start`).

        Args:
            expression: A cron expression (validated here).
            job: One scoring run (raises ``BusyError`` when another run holds the lock).

        Raises:
            UsageError: The expression is invalid.
        """
        self.status = ScheduleStatus(expression=validate_expression(expression), next_run_at=None)
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()
        log.info("scheduler: score-batch on %r, next at %s UTC", self.status.expression,
                 self._next_after(datetime.now(UTC)))  # fmt: skip

    def _next_after(self, moment: datetime) -> datetime:
        from croniter import croniter

        return croniter(self.status.expression, moment).get_next(datetime)  # type: ignore[no-any-return]

    def _loop(self) -> None:
        due = self._next_after(datetime.now(UTC))
        while True:
            self.status.next_run_at = due
            if self._stop.wait(max((due - datetime.now(UTC)).total_seconds(), 0)):
                return
            self.tick()
            now = datetime.now(UTC)
            following = self._next_after(due)
            while following <= now:  # ticks that passed during the run: one, not many
                self.status.coalesced_ticks += 1
                following = self._next_after(following)
            due = following

    def tick(self) -> BatchRun | None:
        """One scheduled run (also callable directly); a held scoring lock skips it."""
        try:
            run = self._job()
        except BusyError as exc:
            self.status.skipped_busy += 1
            log.warning("scheduler: tick skipped: %s", exc.message)
            return None
        except SentinelError as exc:
            self.status.last_status = "error"
            log.error("scheduler: scoring did not run: %s", exc.message)
            return None
        self.status.runs += 1
        self.status.last_run_id, self.status.last_status = run.run_id, run.status
        log.info("scheduler: run %s %s", run.run_id, run.status)
        return run

    def stop(self, timeout: float) -> bool:
        """Stop ticking; wait up to ``timeout`` seconds for a running batch.

        Returns:
            Whether the scheduler stopped within the timeout (else the batch is left to
            the next run's repair).
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("scheduler: a batch is still running after %.0f s; leaving it for the "
                        "next run to repair", timeout)  # fmt: skip
            return False
        return True
