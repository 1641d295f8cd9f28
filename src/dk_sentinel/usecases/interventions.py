"""Interventions.

Recorded with the player's risk at that moment, listed, cancelled, delivered to the platform
through the outbox, and followed up.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dk_sentinel.analysis.assessment import (
    assess,
    validate_player_id,
)
from dk_sentinel.analysis.explainer import (
    make_explainer,
)
from dk_sentinel.analysis.reporting import (
    InterventionReport,
    intervention_report,
)
from dk_sentinel.interventions.delivery import DeliveryReport, deliver
from dk_sentinel.interventions.records import (
    cancel_intervention,
    create_intervention,
    get_intervention,
    list_interventions,
    parse_request,
    replayed,
)
from dk_sentinel.models import Intervention
from dk_sentinel.vocabulary import InterventionType

if TYPE_CHECKING:
    pass

from dk_sentinel.usecases.context import UseCases


class Interventions(UseCases):
    """``sentinel intervene``, ``interventions``, ``deliver``, ``report --interventions``."""

    def record(
        self,
        *,
        player_id: str,
        intervention_type: InterventionType,
        reason: str,
        analyst_id: str | None,
        duration_hours: int | None = None,
        idempotency_key: str | None = None,
        supersede: bool = False,
        use_ai: bool = True,
    ) -> Intervention:
        """``sentinel intervene``: record an intervention with the player's risk at that moment."""
        request = parse_request(
            player_id=player_id, intervention_type=intervention_type, reason=reason,
            analyst_id=analyst_id or self.settings.analyst, duration_hours=duration_hours,
            idempotency_key=idempotency_key, supersede=supersede,
        )  # fmt: skip
        # Three short holds of the warehouse: the AI call for a nudge happens between them.
        with self.connect() as wh:
            first = replayed(wh, request)
            if first is not None:
                return first
            assessment = assess(wh, self.settings, request.player_id, now=self.clock())
        message = None
        if request.intervention_type == "nudge":
            message = make_explainer(self.settings, use_ai=use_ai).nudge(assessment)
        with self.context.writing_interventions(request.player_id) as wh:
            return create_intervention(
                wh, request, assessment, customer_message=message, now=self.clock()
            )

    def find(
        self,
        *,
        player_id: str | None = None,
        active: bool | None = None,
        intervention_type: InterventionType | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Intervention]:
        """``sentinel interventions list``: interventions, newest first (a page with ``limit``).

        Raises:
            UsageError: ``player_id`` is not a player id (an empty list would read as "none").
        """
        if player_id is not None:
            validate_player_id(player_id)
        with self.connect() as wh:
            return list_interventions(
                wh, player_id=player_id, active=active, intervention_type=intervention_type,
                since=since, now=self.clock(), limit=limit, offset=offset,
            )  # fmt: skip

    def get(self, intervention_id: str) -> Intervention:
        """One intervention with its audit events (``GET /api/interventions/{id}``)."""
        with self.connect() as wh:
            return get_intervention(wh, intervention_id, with_events=True, now=self.clock())

    def cancel(self, intervention_id: str, reason: str, analyst_id: str | None) -> Intervention:
        """``sentinel interventions cancel``: end an active intervention (an audit event)."""
        with self.context.writing_interventions() as wh:
            return cancel_intervention(
                wh, intervention_id, reason, analyst_id or self.settings.analyst, now=self.clock()
            )

    def deliver(self) -> DeliveryReport:
        """``sentinel deliver``: post pending interventions to the platform webhook (cron)."""
        with self.context.writing_interventions() as wh:
            return deliver(wh, self.settings, now=self.clock())

    def effect(self) -> InterventionReport:
        """``sentinel report --interventions``: what followed each intervention, breaches."""
        with self.connect() as wh:
            return intervention_report(
                wh, list(self.settings.outcomes.harmful_event_types), now=self.clock()
            )
