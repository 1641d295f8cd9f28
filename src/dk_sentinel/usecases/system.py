"""The application's own upkeep: the schema, the health checks and the demo."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from dk_sentinel.doctor import DoctorReport, parse_age, run_doctor
from dk_sentinel.errors import UsageError
from dk_sentinel.models import (
    BatchRun,
    Document,
    Queue,
    RiskAssessment,
)
from dk_sentinel.warehouse.schema import SchemaStatus, bootstrap, require_current

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import Context, Progress, UseCases
from dk_sentinel.usecases.data import Data
from dk_sentinel.usecases.players import Players
from dk_sentinel.usecases.scoring import Scoring


class DemoResult(Document):
    """Everything the demo made."""

    directory: str
    warehouse: str
    bets: int
    players: int
    run: BatchRun
    queue: Queue
    top_player: RiskAssessment | None


class System(UseCases):
    """``sentinel init``, ``doctor``, ``demo`` and ``GET /health/ready``."""

    def initialise(self) -> SchemaStatus:
        """``sentinel init``: create or migrate the warehouse schema (safe to run twice)."""
        with self.connect() as wh:
            return bootstrap(wh)

    def check_health(self, max_age: str | None = None) -> DoctorReport:
        """``sentinel doctor``: config, warehouse, schema, dbt project, Anthropic key.

        With ``max_age`` (``30m``, ``2h``, ``1d``), also that the last successful run is at
        most that old.

        Raises:
            UsageError: ``max_age`` is not such a duration.
        """
        try:
            age = parse_age(max_age) if max_age is not None else None
        except ValueError as exc:
            raise UsageError(str(exc), "e.g. --max-age 2h") from None
        return run_doctor(self.settings, self.connections, max_age=age, now=self.clock())

    def readiness(self) -> None:
        """``GET /health/ready``: the warehouse answers and its schema is this code's.

        Raises:
            WarehouseUnavailable | BusyError: The warehouse cannot be reached now.
            SchemaError: The schema is missing or of another version.
        """
        with self.connect() as wh:
            require_current(wh)

    def demo(
        self,
        directory: Path,
        *,
        players: int = 2000,
        days: int = 90,
        seed: int = 7,
        force: bool = False,
        progress: Progress = None,
    ) -> DemoResult:
        """``sentinel demo``: generate, ingest and score synthetic data in a new embedded warehouse.

        The demo's warehouse replaces this application's: ``directory/sentinel.duckdb``.

        Args:
            directory: Where the demo lives (data files and warehouse).
            players: Synthetic players.
            days: Days of history.
            seed: Random seed.
            force: Replace an existing demo warehouse.
            progress: Called with a status line at each step.

        Returns:
            The run, the queue and the top player's assessment.

        Raises:
            UsageError: A warehouse already exists there and ``force`` was not given.
            SentinelError: The scoring run failed or its checks did (as ``score-batch``).
        """
        say = progress or (lambda _msg: None)
        db = directory / "sentinel.duckdb"
        if db.exists() and not force:
            raise UsageError(
                f"{db} already exists; the demo never touches an existing warehouse",
                "Pass --force to replace it, or --dir to use another folder.",
            )
        if force:
            db.unlink(missing_ok=True)
            db.with_name(db.name + ".wal").unlink(missing_ok=True)
            shutil.rmtree(directory / "data", ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        settings = self.settings.model_copy(deep=True)
        settings.warehouse.backend = "duckdb"
        settings.warehouse.duckdb.path = db
        demo = Context(settings, clock=self.clock)
        as_of = self.clock().replace(minute=0, second=0, microsecond=0)
        say(f"generating {players:,} players x {days} days")
        generated = Data(demo).generate(
            directory / "data", players, days, seed, as_of, families="all"
        )
        say("loading")
        System(demo).initialise()
        for kind in ("bets", "assessments", "outcomes", "payments", "account_events"):
            Data(demo).load(kind, [generated.files[kind]])
        say("scoring with dbt")
        run = Scoring(demo).run(as_of=as_of)
        if (failure := run.failure()) is not None:  # a demo that scored nothing says so
            raise failure
        say("reading the queue")
        queue = Players(demo).queue(min_category="HIGH", limit=10)
        top = None
        if queue.items:
            top = Players(demo).analyze(queue.items[0].player_id, with_history=True, explain=True)
        return DemoResult(
            directory=str(directory),
            warehouse=str(db),
            bets=generated.bets,
            players=players,
            run=run,
            queue=queue,
            top_player=top,
        )
