"""Players.

One player's assessment and explanation, the review queue (and claiming from it), the
console's player page.
"""

from __future__ import annotations

from pydantic import Field

from dk_sentinel.analysis.assessment import (
    assess,
    build_queue,
    claim_next,
    player_outcomes,
    recent_bets,
    validate_player_id,
)
from dk_sentinel.analysis.explainer import (
    apply,
    cached_explanation,
    make_explainer,
    store_explanation,
)
from dk_sentinel.analysis.published import assemble
from dk_sentinel.interventions.cases import (
    Case,
    get_case,
    list_cases,
)
from dk_sentinel.interventions.records import (
    list_interventions,
)
from dk_sentinel.models import (
    ContactNote,
    Document,
    Intervention,
    PlayerOutcome,
    Queue,
    QueueItem,
    RecentBet,
    RiskAssessment,
    validated,
)
from dk_sentinel.usecases.context import UseCases
from dk_sentinel.vocabulary import QueueCategory


class PlayerFile(Document):
    """Everything the console's player page shows: one read of the warehouse."""

    assessment: RiskAssessment
    interventions: list[Intervention] = Field(description="All of them, newest first")
    recent_bets: list[RecentBet]
    outcomes: list[PlayerOutcome]
    cases: list[Case]


class Players(UseCases):
    """``sentinel analyze``, ``queue`` (and ``--claim``), ``GET /api/players/...``."""

    def analyze(
        self,
        player_id: str,
        *,
        with_history: bool = False,
        explain: bool = False,
        nudge: bool = False,
        use_ai: bool = True,
    ) -> RiskAssessment:
        """``sentinel analyze``: one player's assessment and open interventions.

        On request also the 90-day history, an explanation and a tone-checked customer nudge.
        """
        validate_player_id(player_id)
        served = self.context.served
        held = served.source(player_id) if served and not with_history else None
        if held is not None:  # the latest run held in memory by sentinel serve
            assessment = assemble(held, self.settings, player_id)
        else:
            with self.connect() as wh:
                assessment = assess(
                    wh, self.settings, player_id, now=self.clock(), with_history=with_history
                )
        if not (explain or nudge):
            return assessment
        return self.explain(assessment, nudge=nudge, use_ai=use_ai)

    def explain(
        self, assessment: RiskAssessment, *, nudge: bool = False, use_ai: bool = True
    ) -> RiskAssessment:
        """Add the explanation (and a tone-checked nudge) to an assessment already read.

        A model explanation is cached per player, run, model and prompt; the model is called
        with the warehouse closed, so a slow AI service holds no lock.
        """
        explainer = make_explainer(self.settings, use_ai=use_ai)
        if explainer.name == "ai":  # the rules are free: nothing to look up
            with self.connect() as wh:
                cached = cached_explanation(wh, explainer, assessment, want_nudge=nudge)
            if cached:
                return apply(assessment, cached)
        explanation = explainer.explain(assessment, want_nudge=nudge)
        if explanation.source == "ai":
            with self.connect() as wh:
                store_explanation(wh, explainer, assessment, explanation, want_nudge=nudge)
        return apply(assessment, explanation)

    def queue(
        self,
        *,
        min_category: QueueCategory = "HIGH",
        state: str | None = None,
        limit: int = 50,
        include_actioned: bool = False,
        overdue: bool = False,
        trigger: str | None = None,
        offset: int = 0,
    ) -> Queue:
        """``sentinel queue``: players to review, highest risk first, with SLA due times.

        A page: at most ``limit`` players from ``offset``.
        """
        with self.connect() as wh:
            return build_queue(
                wh, min_category=min_category, state=state, limit=limit,
                include_actioned=include_actioned, overdue=overdue, trigger=trigger,
                now=self.clock(), offset=offset,
            )  # fmt: skip

    def file(self, player_id: str, *, bets: int = 20) -> PlayerFile:
        """The console's player page: the assessment and everything around it.

        The assessment with its history, every intervention with its audit events, the latest
        bets, the recorded outcomes and the player's cases.

        Raises:
            UsageError: Not a player id.
            NotFoundError: The player was never scored.
        """
        validate_player_id(player_id)
        with self.connect() as wh:
            assessment = assess(wh, self.settings, player_id, now=self.clock(), with_history=True)
            every = list_interventions(wh, player_id=player_id, now=self.clock(), with_events=True)
            return PlayerFile(
                assessment=assessment,
                interventions=every,
                recent_bets=recent_bets(wh, player_id, bets),
                outcomes=player_outcomes(wh, player_id),
                cases=[
                    get_case(wh, c.case_id, self.clock())  # with its audit events
                    for c in list_cases(wh, self.clock(), player_id=player_id)
                ],
            )

    def claim(
        self,
        analyst_id: str | None,
        *,
        min_category: QueueCategory = "HIGH",
        state: str | None = None,
        overdue: bool = False,
        trigger: str | None = None,
    ) -> QueueItem:
        """``sentinel queue --claim``: the next player nobody else is working, now yours.

        Raises:
            UsageError: No analyst id.
            NotFoundError: Nobody left to claim.
        """
        analyst = validated(ContactNote, {"analyst_id": analyst_id or self.settings.analyst,
                                          "note": ""}).analyst_id  # fmt: skip
        now = self.clock()
        with self.connect() as wh:
            queue = build_queue(
                wh, min_category=min_category, state=state, limit=500, overdue=overdue,
                trigger=trigger, now=now,
            )  # fmt: skip
            return claim_next(wh, queue, str(analyst), self.settings.queue.claim_minutes, now)
