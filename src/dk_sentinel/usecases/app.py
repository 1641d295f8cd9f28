"""The application object: the context (settings, connections, clock) and its use cases.

``Sentinel(settings)`` is what the front ends hold. The CLI builds one in its root callback,
the API one per app (with the server's pool). A front end parses its input, calls one use case
of one resource -- ``app.players.analyze(...)``, ``app.cases.contact(...)`` -- and renders what
it returns. Each resource's use cases live in their own module of this package (``players``,
``interventions``, ``cases``, ``scoring``, ``outcomes``, ``reports``, ``keys``, ``data``,
``system``); nothing there prints, exits or knows about Typer or HTTP. Each use case takes a
connection for the block that needs it and always gives it back, and composes the
capabilities, which never call each other upward: ``analysis`` reads scores and explains them,
``interventions`` records actions (taking the risk snapshot and the nudge writer as
arguments), ``outcomes`` backtests and calibrates. The layering is an import contract checked
by the test suite (``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

from functools import cached_property, partial
from typing import TYPE_CHECKING

from dk_sentinel.analysis.served import ServedAssessments
from dk_sentinel.usecases.context import Context

if TYPE_CHECKING:
    from dk_sentinel.usecases.cases import Cases
    from dk_sentinel.usecases.data import Data
    from dk_sentinel.usecases.interventions import Interventions
    from dk_sentinel.usecases.keys import Keys
    from dk_sentinel.usecases.outcomes import Outcomes
    from dk_sentinel.usecases.players import Players
    from dk_sentinel.usecases.reports import Reports
    from dk_sentinel.usecases.scoring import Scoring
    from dk_sentinel.usecases.system import System


class Sentinel(Context):
    """The application: its context, and the use cases of each resource.

    A resource's module is imported when first used, so a quick command loads only its own.
    """

    def serve_from_memory(self, max_stale_seconds: float = 60.0) -> ServedAssessments:
        """Answer ``players.analyze`` from the latest run held in memory (see ``served``).

        Args:
            max_stale_seconds: Beyond this long without a successful poll, read the warehouse.

        Returns:
            The holder; the caller refreshes it (``sentinel serve`` polls it in a thread).
        """
        stamp = None
        if self.settings.warehouse.backend == "duckdb":
            from dk_sentinel.warehouse.duckdb import file_stamp

            stamp = partial(file_stamp, self.settings.warehouse.duckdb.path)
        self.served = ServedAssessments(
            self.connect, self.clock, stamp, max_stale_seconds=max_stale_seconds
        )
        return self.served

    @cached_property
    def players(self) -> Players:
        """Assessments, explanations, the review queue, the player page."""
        from dk_sentinel.usecases.players import Players

        return Players(self)

    @cached_property
    def interventions(self) -> Interventions:
        """Interventions recorded, listed, cancelled, delivered and followed up."""
        from dk_sentinel.usecases.interventions import Interventions

        return Interventions(self)

    @cached_property
    def cases(self) -> Cases:
        """Cases with a regulatory clock."""
        from dk_sentinel.usecases.cases import Cases

        return Cases(self)

    @cached_property
    def scoring(self) -> Scoring:
        """Scoring runs and replays."""
        from dk_sentinel.usecases.scoring import Scoring

        return Scoring(self)

    @cached_property
    def outcomes(self) -> Outcomes:
        """Backtests and calibration against outcomes."""
        from dk_sentinel.usecases.outcomes import Outcomes

        return Outcomes(self)

    @cached_property
    def reports(self) -> Reports:
        """The compliance and regulator reports."""
        from dk_sentinel.usecases.reports import Reports

        return Reports(self)

    @cached_property
    def keys(self) -> Keys:
        """API keys and console sessions."""
        from dk_sentinel.usecases.keys import Keys

        return Keys(self)

    @cached_property
    def data(self) -> Data:
        """Files generated, loaded and exported."""
        from dk_sentinel.usecases.data import Data

        return Data(self)

    @cached_property
    def system(self) -> System:
        """The schema, the health checks and the demo."""
        from dk_sentinel.usecases.system import System

        return System(self)
