"""What ``sentinel serve`` runs beside its requests: the pool, the scheduler, background runs.

The API's app factory builds one :class:`ServerRuntime` and starts and stops it with the app's
lifespan. Routes call ``runtime.app`` (the :class:`~dk_sentinel.usecases.app.Sentinel` whose
connections come from the server's pool) and, for ``POST /api/score-batch``,
:meth:`ServerRuntime.start_scoring`; nothing of the scheduler or of dbt reaches the front end.
"""

from __future__ import annotations

import logging
import threading

from dk_sentinel.config import Settings
from dk_sentinel.errors import BusyError, ConflictError, SentinelError, UsageError
from dk_sentinel.models import BatchRun, Document
from dk_sentinel.scoring import DbtCommand, new_run_id
from dk_sentinel.scoring.dbt import ResidentDbt, run_dbt
from dk_sentinel.scoring.scheduler import Scheduler, ScheduleStatus
from dk_sentinel.usecases.app import Sentinel
from dk_sentinel.warehouse.pool import open_pool

log = logging.getLogger("dk_sentinel.server")


class RunStarted(Document):
    """A scoring run was started in the background."""

    run_id: str
    status: str
    runs: str = "/api/runs"


def check_serving(settings: Settings, *, workers: int, schedule: str | None) -> None:
    """Refuse a server layout the warehouse cannot hold.

    Raises:
        UsageError: Several workers with a schedule, or on the embedded DuckDB file.
    """
    if workers > 1 and schedule:
        raise UsageError(
            "--schedule needs a single worker: each worker would run its own scheduler",
            "Drop --workers, or run score-batch from cron and serve with --workers.",
        )
    if workers > 1 and settings.warehouse.backend == "duckdb":
        raise UsageError(
            "the embedded DuckDB file can be served by one worker process only",
            "Drop --workers (one worker answers many requests at once), or use Snowflake.",
        )


class ServerRuntime:
    """The server's application object, its pool, its scheduler and its background runs."""

    def __init__(self, settings: Settings, schedule: str | None = None) -> None:
        """Build the runtime (nothing starts before :meth:`start`).

        Args:
            settings: Loaded settings; a request waits ``[api] busy_timeout_seconds`` for
                the warehouse (not the CLI's ``[warehouse]`` one).
            schedule: A cron expression: also run score-batch in-process on it.

        Raises:
            UsageError: The schedule is not a valid cron expression.
        """
        settings = settings.model_copy(deep=True)
        settings.warehouse.busy_timeout_seconds = settings.api.busy_timeout_seconds
        if not settings.warehouse.snowflake.query_tag.endswith(":serve"):
            settings.warehouse.snowflake.query_tag += ":serve"
        self.settings = settings
        self.app = Sentinel(settings, connections=open_pool(settings, settings.api.pool_size))
        # A scheduled server keeps dbt loaded between its runs; otherwise each run is a child.
        self._dbt: DbtCommand = ResidentDbt() if schedule else run_dbt
        self._scheduler = Scheduler(schedule, self._score) if schedule else None
        self._scoring = threading.Lock()
        # The risk lookup from memory, polled by a thread (0 s: read the warehouse each time).
        self._poll_seconds = settings.api.refresh_seconds(settings.warehouse.backend)
        self._served = (
            self.app.serve_from_memory(max_stale_seconds=max(60.0, 3 * self._poll_seconds))
            if self._poll_seconds > 0
            else None
        )
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def schedule(self) -> ScheduleStatus | None:
        """The scheduler's state (None without ``--schedule``)."""
        return self._scheduler.status if self._scheduler else None

    def start(self) -> None:
        """Start the scheduler, if any (the pool opens on the first request)."""
        if self._scheduler:
            self._scheduler.start()
        if self._served is not None:
            self._stopping.clear()
            self._poller = threading.Thread(target=self._poll, name="served-poll", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        """Refresh the served assessments until stopped; a failed poll keeps what is held."""
        assert self._served is not None
        while True:
            try:
                self._served.poll()
            except BusyError:  # a scoring run or a command holds the file: try again next time
                log.debug("served assessments not refreshed: the warehouse is busy")
            except SentinelError as exc:  # unreachable, or the schema changed: say so
                log.warning("served assessments not refreshed: %s", exc.message)
            except Exception:  # never let the thread die; the lookup then reads the warehouse
                log.exception("served assessments not refreshed")
            if self._stopping.wait(self._poll_seconds):
                return

    def stop(self) -> None:
        """Stop the scheduler (waiting up to ``[api] shutdown_timeout_seconds``), close the pool."""
        if self._scheduler:
            self._scheduler.stop(self.settings.api.shutdown_timeout_seconds)
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(self.settings.api.shutdown_timeout_seconds)
        self.app.close()

    def _score(self, run_id: str | None = None) -> BatchRun:
        run = self.app.scoring.run(run_id=run_id, dbt=self._dbt)
        if self._served is not None and run.status == "success":
            try:
                self._served.refresh()  # serve the new run now, not at the next poll
            except Exception:  # the run stands; the next poll catches up
                log.warning("served assessments not refreshed after run %s", run.run_id,
                            exc_info=True)  # fmt: skip
        return run

    def start_scoring(self) -> RunStarted:
        """Start one scoring run in a background thread.

        Returns:
            The new run's id (``GET /api/runs`` shows how it went).

        Raises:
            ConflictError: A run started by this server is still going.
        """
        if not self._scoring.acquire(blocking=False):
            raise ConflictError("a scoring run started by this server is in progress")
        run_id = new_run_id()

        def work() -> None:
            try:
                run = self._score(run_id)
                log.info("API-started scoring run %s: %s", run.run_id, run.status)
            except SentinelError as exc:
                log.warning("API-started scoring run did not run: %s", exc.message)
            finally:
                self._scoring.release()

        threading.Thread(target=work, name="score-batch", daemon=True).start()
        started = self.app.clock()
        return RunStarted(run_id=run_id, status=f"started at {started:%Y-%m-%d %H:%M:%S} UTC")
