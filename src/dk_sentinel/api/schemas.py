"""The API's own bodies and pages; each field's limits are the domain's (``models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, RootModel

from dk_sentinel.models import (
    STATE_PATTERN,
    AnalystId,
    BatchRun,
    Document,
    Intervention,
    Note,
    NoteText,
    PlayerId,
    QueueItem,
    Reason,
    TimeoutHours,
)
from dk_sentinel.usecases import Case, ContactResult, ScheduleStatus
from dk_sentinel.vocabulary import QueueCategory


class RequestBody(Document):
    """A request body: built when the app is, not on first use as the output models are.

    FastAPI wraps each body in an adapter when its route is made; a deferred model would be
    rebuilt inside that adapter, which pydantic warns about on every start. Strict: a JSON
    ``0`` is not ``false`` and ``"24"`` is not ``24`` (the OpenAPI document's types are the
    rule).
    """

    model_config = ConfigDict(defer_build=False, strict=True)


def _whole(value: Any) -> Any:
    # JSON Schema's integer includes 24.0; strict validation alone would refuse it
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Health(Document):
    """Liveness."""

    status: str
    version: str
    timestamp: datetime


class ServerHealth(Health):
    """Liveness, and the resident scheduler's state when ``--schedule`` is on."""

    schedule: ScheduleStatus | None = None


class AnalyzeRequest(RequestBody):
    """The brief's body of ``POST /api/analytics/analyze-player``."""

    player_id: PlayerId = Field(examples=["PLR_1234_MA"])
    include_history: bool = False
    generate_nudge: bool = False


class _InterventionFields(RequestBody):
    player_id: PlayerId = Field(examples=["PLR_1234_MA"])
    analyst_id: AnalystId | None = Field(default=None, examples=["ana01"])
    reason: Reason = Field(examples=["Chasing losses after midnight"])
    supersede: bool = False


class TimeoutBody(_InterventionFields):
    """A cooling-off timeout: its length is required."""

    intervention_type: Literal["timeout"] = Field(examples=["timeout"])
    duration_hours: Annotated[TimeoutHours, BeforeValidator(_whole)] = Field(examples=[24])


class OpenEndedBody(_InterventionFields):
    """A nudge, a watchlist entry or a referral: no length (``duration_hours`` absent or null)."""

    intervention_type: Literal["nudge", "watchlist", "referral"] = Field(examples=["watchlist"])
    duration_hours: None = None


class InterventionBody(
    RootModel[Annotated[TimeoutBody | OpenEndedBody, Field(discriminator="intervention_type")]]
):
    """The brief's body of ``POST /api/interventions`` (the analyst is the API key's).

    One shape per intervention type, told apart by ``intervention_type``.
    """


class CancelBody(RequestBody):
    """Why an intervention is cancelled."""

    reason: Reason = Field(examples=["Player agreed a limit with support"])


class QueuePage(Document):
    """One page of the review queue."""

    run_id: str | None
    as_of: datetime | None
    min_category: str
    items: list[QueueItem]
    next_cursor: str | None


class InterventionPage(Document):
    """One page of interventions."""

    items: list[Intervention]
    next_cursor: str | None


class ContactBody(RequestBody):
    """A contact attempt on a case."""

    result: ContactResult = Field(examples=["no_answer"])
    note: Note = Field(default="", examples=["Voicemail left"])
    confirm_suspension: bool = Field(
        default=False,
        description="Confirms an attempt that suspends the account (the pack's last failed "
        "contact); without it such an attempt is refused with 409 and nothing is recorded",
    )


class CorrectionBody(RequestBody):
    """A contact attempt withdrawn as a mistake."""

    event_id: str = Field(min_length=1, max_length=64, examples=["00000001733590000000-a1b2c3"])
    reason: Reason = Field(examples=["Logged on the wrong case"])


class CloseBody(RequestBody):
    """Why a case is closed."""

    reason: Reason = Field(examples=["Clear for 180 days; limits kept"])


class RunsPage(Document):
    """One page of scoring runs, newest first, with the cursor of the next page."""

    items: list[BatchRun]
    next_cursor: str | None


class CasesPage(Document):
    """One page of cases, most urgent first, with the cursor of the next page."""

    items: list[Case]
    next_cursor: str | None


class ReasonBody(RequestBody):
    """Why a case changes state (contest, reopen)."""

    reason: Reason = Field(examples=["The player showed the deposits were a salary transfer"])


class AssignBody(RequestBody):
    """Who works a case from now on."""

    analyst_id: AnalystId = Field(examples=["ana02"])


class NoteBody(RequestBody):
    """A note in a case's audit trail."""

    note: NoteText = Field(examples=["Player emailed; call tomorrow"])


class ClaimBody(RequestBody):
    """Which queue to claim the next player from."""

    category: QueueCategory = "HIGH"
    state: str | None = Field(default=None, pattern=STATE_PATTERN)
    overdue: bool = False
    trigger: str | None = Field(default=None, max_length=40)
