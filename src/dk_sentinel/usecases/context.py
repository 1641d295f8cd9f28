"""What every use case shares: the settings, where connections come from, and the clock.

:class:`Context` is the application's state (the :class:`~dk_sentinel.usecases.app.Sentinel`
is one); :class:`UseCases` is the base of each resource's use cases (``players``, ``cases``
...), which read that state and never each other's, except a replay (scoring) that a backtest
or calibration runs first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from dk_sentinel.analysis.served import ServedAssessments
from dk_sentinel.config import Settings
from dk_sentinel.models import utcnow
from dk_sentinel.warehouse import Connections, DirectConnections, Warehouse

Progress = Callable[[str], None] | None
Clock = Callable[[], datetime]


class Context:
    """Settings, the connection source, the clock, and the assessments served from memory."""

    def __init__(
        self,
        settings: Settings,
        *,
        connections: Connections | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """Build the context (nothing is opened yet).

        Args:
            settings: Loaded settings.
            connections: Where connections come from (default: one per block, closed after;
                ``sentinel serve`` passes its pool).
            clock: The current time in UTC, naive (tests pass a fixed one).
        """
        self.settings = settings
        self.connections = connections or DirectConnections(settings)
        self.clock = clock
        #: The latest run's assessments in memory (``sentinel serve`` turns it on).
        self.served: ServedAssessments | None = None

    def connect(self) -> AbstractContextManager[Warehouse]:
        """A warehouse connection for one ``with`` block, closed or given back after it."""
        return self.connections.connect()

    def close(self) -> None:
        """Close the connections still open (a pool's); idempotent."""
        self.connections.close()

    @contextmanager
    def writing_interventions(self, player_id: str | None = None) -> Iterator[Warehouse]:
        """A connection for a write to interventions; the memory then rereads them.

        So a lookup served from memory shows this server's write at once.

        Args:
            player_id: The one player the write concerns (None: it may concern several).
        """
        try:
            with self.connect() as wh:
                yield wh
        finally:
            if self.served is not None:
                self.served.interventions_changed(player_id)


class UseCases:
    """The base of a resource's use cases: the context's settings, connections and clock."""

    def __init__(self, context: Context) -> None:
        """Bind the use cases to an application context.

        Args:
            context: The application (settings, connections, clock).
        """
        self.context = context

    # read through to the context at each use: a test (or the demo) may swap its clock
    @property
    def settings(self) -> Settings:
        """The application's settings."""
        return self.context.settings

    @property
    def connections(self) -> Connections:
        """Where the application's connections come from."""
        return self.context.connections

    def clock(self) -> datetime:
        """Now, by the application's clock (UTC, naive)."""
        return self.context.clock()

    def connect(self) -> AbstractContextManager[Warehouse]:
        """A warehouse connection for one ``with`` block (the context's)."""
        return self.context.connect()
