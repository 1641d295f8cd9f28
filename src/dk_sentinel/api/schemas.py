"""The API's own bodies and pages; each field's limits are the domain's (``models``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from dk_sentinel.models import (
    AnalystId,
    Document,
    Intervention,
    InterventionType,
    PlayerId,
    QueueCategory,
    QueueItem,
    Reason,
    TimeoutHours,
)
from dk_sentinel.usecases import Case, ContactResult, ScheduleStatus


class Health(Document):
    """Liveness."""

    status: str
    version: str
    timestamp: datetime


class ServerHealth(Health):
    """Liveness, and the resident scheduler's state when ``--schedule`` is on."""

    schedule: ScheduleStatus | None = None


class AnalyzeRequest(Document):
    """The brief's body of ``POST /api/analytics/analyze-player``."""

    player_id: PlayerId = Field(examples=["PLR_1234_MA"])
    include_history: bool = False
    generate_nudge: bool = False


class InterventionBody(Document):
    """The brief's body of ``POST /api/interventions`` (the analyst is the API key's)."""

    player_id: PlayerId = Field(examples=["PLR_1234_MA"])
    intervention_type: InterventionType = Field(examples=["timeout"])
    analyst_id: AnalystId | None = Field(default=None, examples=["ana01"])
    reason: Reason = Field(examples=["Chasing losses after midnight"])
    duration_hours: TimeoutHours | None = Field(default=None, examples=[24])
    supersede: bool = False


class CancelBody(Document):
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


class ContactBody(Document):
    """A contact attempt on a case."""

    result: ContactResult = Field(examples=["no_answer"])
    note: str = Field(default="", max_length=500, examples=["Voicemail left"])
    confirm_suspension: bool = Field(
        default=False,
        description="Confirms an attempt that suspends the account (the pack's last failed "
        "contact); without it such an attempt is refused with 409 and nothing is recorded",
    )


class CorrectionBody(Document):
    """A contact attempt withdrawn as a mistake."""

    event_id: str = Field(min_length=1, max_length=64, examples=["00000001733590000000-a1b2c3"])
    reason: Reason = Field(examples=["Logged on the wrong case"])


class CloseBody(Document):
    """Why a case is closed."""

    reason: Reason = Field(examples=["Clear for 180 days; limits kept"])


class CasesPage(Document):
    """One page of cases, most urgent first, with the cursor of the next page."""

    items: list[Case]
    next_cursor: str | None


class ReasonBody(Document):
    """Why a case changes state (contest, reopen)."""

    reason: Reason = Field(examples=["The player showed the deposits were a salary transfer"])


class AssignBody(Document):
    """Who works a case from now on."""

    analyst_id: AnalystId = Field(examples=["ana02"])


class NoteBody(Document):
    """A note in a case's audit trail."""

    note: str = Field(min_length=1, max_length=500, examples=["Player emailed; call tomorrow"])


class ClaimBody(Document):
    """Which queue to claim the next player from."""

    category: QueueCategory = "HIGH"
    state: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    overdue: bool = False
    trigger: str | None = Field(default=None, max_length=40)
