"""Pydantic models that cross a boundary, and the domain vocabulary they are built from.

Each domain rule that several layers need (the player-id pattern, the categories, the
intervention types, "now") is defined here once; the CLI derives its choices from these.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
)

from dk_sentinel.errors import PartialFailure, ScoringError, SentinelError, UsageError
from dk_sentinel.vocabulary import (  # the domain's words live there; re-exported for the models
    Category,
    Component,
    InterventionType,
    RunKind,
)

#: The data contract's player id: PLR_<4-6 digits>_<two-letter state>.
PLAYER_ID_PATTERN = r"^PLR_[0-9]{4,6}_[A-Z]{2}$"  # ASCII digits: Python's \d takes others too
PLAYER_ID_FORM = "PLR_<4-6 digits>_<state>"
PLAYER_ID_HINT = "Expected PLR_<4-6 digits>_<two-letter state>, e.g. PLR_1234_MA."
#: An analyst id's length, the one rule for interventions, API keys and cases.
ANALYST_ID_MIN, ANALYST_ID_MAX = 3, 50
#: A US state or other two-letter jurisdiction code, as the player id ends.
STATE_PATTERN = r"^[A-Z]{2}$"
#: The characters nothing an analyst writes may hold: control characters besides tab and line
#: feed, and Unicode's bidirectional embedding, override and isolate controls (they reorder
#: the text around them on screen). A regular-expression class body, for the patterns below.
_HIDDEN = r"\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069"
_SPACE, _MARK = rf"[^\S{_HIDDEN}]", rf"[^\s{_HIDDEN}]"  # white space / a visible character


def _visible_pattern(least: int) -> str:
    """Printable text with at least ``least`` characters between its first and last visible."""
    if least <= 1:
        return rf"^{_SPACE}*{_MARK}[^{_HIDDEN}]*$"
    return rf"^{_SPACE}*{_MARK}[^{_HIDDEN}]{{{least - 2},}}{_MARK}{_SPACE}*$"


#: The rules the validators below enforce, stated as JSON Schema patterns in the OpenAPI
#: document (the validators keep their plainer messages; schemathesis checks the two agree).
PRINTABLE_PATTERN = rf"^[^{_HIDDEN}]*$"


def _printable(value: str) -> str:
    # what an analyst writes is printed to analysts and auditors: control characters (NUL,
    # escapes) and bidirectional overrides would print raw or reorder what they read
    if not re.fullmatch(PRINTABLE_PATTERN, value):
        raise ValueError("must not contain control or bidirectional-override characters")
    return value


def _visible(least: int) -> AfterValidator:
    """Printable, and at least ``least`` characters besides surrounding white space."""

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if len(value.strip()) < least:  # spaces do not make a text long enough
            raise ValueError(f"must have at least {least} characters besides spaces")
        return _printable(value)

    return AfterValidator(check)


def _text(least: int, most: int) -> Any:
    """The field of a text an analyst writes: its limits, enforced and stated as a pattern."""
    return Field(
        min_length=least, max_length=most, json_schema_extra={"pattern": _visible_pattern(least)}
    )


#: The limits of what an analyst types, one definition for the use cases and the API schemas.
PlayerId = Annotated[str, Field(pattern=PLAYER_ID_PATTERN)]
AnalystId = Annotated[str, _text(ANALYST_ID_MIN, ANALYST_ID_MAX), _visible(ANALYST_ID_MIN)]
#: Why an analyst acted (the brief: 10 to 500 characters).
REASON_MIN = 10
Reason = Annotated[str, _text(REASON_MIN, 500), _visible(REASON_MIN)]
#: A note on a case: printable, at most 500 characters (``NoteText``: and not blank).
Note = Annotated[
    str,
    Field(max_length=500, json_schema_extra={"pattern": PRINTABLE_PATTERN}),
    AfterValidator(_printable),
]
NoteText = Annotated[str, _text(1, 500), _visible(1)]
#: A timeout's length (the brief: 1 hour to 7 days).
TimeoutHours = Annotated[int, Field(ge=1, le=168)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=128)]


def utcnow() -> datetime:
    """Now in UTC as a naive timestamp (the warehouse stores UTC without offset)."""
    return datetime.now(UTC).replace(tzinfo=None)


def probability_phrase(probability: float, horizon_days: int | None) -> str:
    """How a calibrated probability is worded everywhere (analyze, explanations, queue).

    Args:
        probability: The applied profile's estimate in [0, 1].
        horizon_days: The profile's horizon.

    Returns:
        e.g. "model-estimated chance of an RG event within 30 days: 23 %".
    """
    return (
        f"model-estimated chance of an RG event within {horizon_days or '?'} days: "
        f"{probability * 100:.0f} %"
    )


def rfc3339(value: datetime) -> str:
    """A timestamp as RFC 3339 text at whole seconds in UTC (``Z``).

    The one format of every JSON and CSV output.

    Timestamps are UTC everywhere; the warehouse hands them back without a zone, so a zone-less
    one is written with ``Z``.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def json_default(value: Any) -> Any:
    """The ``default`` of ``json.dumps`` for rows read from the warehouse.

    Timestamps as RFC 3339, decimals as numbers, anything else as text.
    """
    from decimal import Decimal

    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


class Document(BaseModel):
    """A model that crosses a boundary (JSON out of the CLI and the API).

    Timestamps are UTC everywhere; the warehouse hands them back without a zone, so in JSON a
    zone-less one is written with ``Z`` -- RFC 3339, as the OpenAPI ``date-time`` format asks.

    Each class's validator is built on first use (``defer_build``): a command builds the few
    models it touches, not the seventy a process imports (most of an ``analyze``'s start-up).
    """

    model_config = ConfigDict(defer_build=True)

    @field_serializer("*", mode="wrap", when_used="json")
    def _utc(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            return rfc3339(value)
        return handler(value)


class ByAnalyst(Document):
    """Who did it: every analyst action names its analyst (the brief's rules)."""

    analyst_id: AnalystId | None

    @field_validator("analyst_id", mode="before")
    @classmethod
    def _analyst_given(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(
                "an analyst id is required: pass --analyst ID, set SENTINEL_ANALYST, "
                "or set analyst in sentinel.toml"
            )
        return value


class AnalystAction(ByAnalyst):
    """Who did it and why (the reason: 10-500 printable characters, not blank)."""

    reason: Reason


class ContactNote(ByAnalyst):
    """A contact attempt's note (optional, printable, at most 500 characters)."""

    note: Note = ""


Action = TypeVar("Action", bound=BaseModel)


def validated(model: type[Action], fields: dict[str, Any]) -> Action:
    """Validate what an analyst typed, turning pydantic's errors into one UsageError.

    Args:
        model: The model to build.
        fields: Its fields.

    Returns:
        The validated model.

    Raises:
        UsageError: One part per invalid field.
    """
    try:
        return model(**fields)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "string_pattern_mismatch":
                message = PLAYER_ID_HINT
            parts.append(message if message.startswith(field) else f"{field}: {message}")
        raise UsageError("; ".join(parts)) from None


class BatchRun(Document):
    """One ``sentinel score-batch`` run (a row of ``scoring_runs``)."""

    run_id: str
    status: Literal["running", "success", "skipped", "tests_failed", "failed"]
    kind: RunKind = "live"
    started_at: datetime
    finished_at: datetime | None = None
    as_of: datetime
    watermark: datetime | None = None
    new_bets: int = 0
    players_scored: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    scoring_version: str | None = None
    profile_version: str | None = Field(
        default=None, description="The calibrated scoring profile applied, if any"
    )
    error: str | None = Field(default=None, description="Why the run failed or was skipped")
    log_file: str | None = Field(default=None, description="dbt's log of this run")

    def failure(self) -> SentinelError | None:
        """The problem to report after showing this run, or None when it succeeded.

        Exit 4 when its dbt tests failed (nothing published); the internal-error code when
        dbt itself failed (the previous scores are intact).
        """
        log = f"see {self.log_file}" if self.log_file else "see dbt's log"
        if self.status == "tests_failed":
            return PartialFailure(
                f"scoring run {self.run_id}: {self.tests_failed} dbt test(s) failed; "
                "its scores are not published",
                f"{(self.error or '')[:300]} -- {log}",
            )
        if self.status == "failed":
            return ScoringError(
                f"scoring run {self.run_id} failed: {self.error}",
                f"{log.capitalize()}; the previous scores are intact.",
            )
        return None

    @property
    def seconds(self) -> float | None:
        """Wall time of the run."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ComponentEvidence(Document):
    """One component of an assessment: its score, weight, presence and the evidence behind it."""

    score: float | None = Field(description="In [0, 1]; null when the component is absent")
    weight: float
    present: bool
    summary: str = Field(description="The evidence in plain words, with its numbers")
    features: dict[str, float | int | str | None] = Field(default_factory=dict)


class HistoryPoint(Document):
    """The composite, category and components at one successful scoring run."""

    as_of: datetime
    run_id: str
    composite_risk_score: float
    risk_category: Category
    loss_chase: float | None = None
    bet_escalation: float | None = None
    market_drift: float | None = None
    temporal_risk: float | None = None
    money_behaviour: float | None = None
    gamalyze: float | None = None


class RecentBet(Document):
    """One of a player's latest bets as held (raw, as loaded)."""

    bet_id: str
    placed_at: datetime
    settled_at: datetime | None
    sport: str
    market: str | None
    is_live: bool
    odds_decimal: float
    stake: float
    payout: float | None
    status: str


class PlayerOutcome(Document):
    """A harmful outcome recorded for the player (data contract 3: self-exclusion and the like)."""

    event_at: datetime
    event_type: str


class Freshness(Document):
    """How current the scores are."""

    last_bet_at: datetime | None
    last_run_finished_at: datetime | None
    latest_ingest_at: datetime | None
    scores_older_than_ingest: bool


class Intervention(Document):
    """A recorded intervention with the risk snapshot taken when it was created."""

    intervention_id: str
    player_id: str
    intervention_type: InterventionType
    status: Literal["active", "expired", "cancelled", "superseded"]
    duration_hours: int | None = None
    reason: str
    analyst_id: str
    created_at: datetime
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    run_id: str | None = None
    composite_risk_score: float | None = None
    risk_category: Category | None = None
    customer_message: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    superseded_by: str | None = None
    delivery_status: Literal["pending", "delivered"] | None = Field(
        default=None, description="Whether the platform has acknowledged it (the outbox)"
    )
    delivery_attempts: int = 0
    delivery_error: str | None = None
    events: list[InterventionEvent] | None = None


class InterventionEvent(Document):
    """An append-only audit event."""

    event_id: str
    intervention_id: str
    player_id: str
    event_type: Literal["created", "cancelled", "superseded", "nudge_replaced"]
    occurred_at: datetime
    analyst_id: str | None = None
    detail: str | None = None


class Explanation(Document):
    """An explanation of an assessment, validated whether it came from the model or the rules."""

    explanation: str = Field(max_length=1200)
    key_evidence: list[str] = Field(default_factory=list, max_length=8)
    recommended_action: str = Field(max_length=200)
    customer_nudge: str | None = Field(default=None, max_length=800)
    source: Literal["ai", "rules"] = "rules"
    model: str | None = None
    notice: str | None = Field(default=None, description="Why the rules were used, if they were")


class MoneyWindow(Document):
    """Completed deposits and withdrawals over a trailing window."""

    days: int
    deposits: float
    deposit_count: int
    withdrawals: float
    withdrawal_count: int


class MoneyPicture(Document):
    """Payments and the use of RG tools as of the latest live run (data contract v1.1)."""

    as_of: datetime | None = Field(default=None, description="The run's as-of")
    windows: list[MoneyWindow] = Field(description="1, 7, 30 and 90 days")
    cancelled_withdrawals_30d: int
    declined_deposits_30d: int
    payment_methods_90d: int
    limit_changes_30d: int
    rg_page_visits_30d: int = Field(description="RG and self-exclusion pages")
    session_hours_30d: float


class RiskAssessment(Document):
    """What ``sentinel analyze`` shows for one player (its JSON Schema is published)."""

    player_id: str
    state: str
    composite_risk_score: float = Field(ge=0, le=1)
    risk_category: Category
    risk_probability: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Chance of a harmful outcome within probability_horizon_days, from the "
        "applied scoring profile (null without one)",
    )
    probability_horizon_days: int | None = None
    profile_version: str | None = Field(default=None, description="The profile applied")
    primary_driver: Component | None
    component_scores: dict[str, float | None]
    components_present: list[Component]
    evidence: dict[str, ComponentEvidence]
    is_low_confidence: bool
    ai_explanation: str | None = None
    key_evidence: list[str] = Field(default_factory=list)
    recommended_action: str | None = None
    explanation_source: Literal["ai", "rules"] | None = None
    customer_nudge: str | None = None
    scored_at: datetime
    as_of: datetime
    run_id: str
    is_current: bool = Field(description="False when the player was not in the latest run")
    freshness: Freshness
    history: list[HistoryPoint] | None = None
    change_7d: float | None = None
    change_30d: float | None = None
    open_interventions: list[Intervention] = Field(default_factory=list)
    money: MoneyPicture | None = Field(
        default=None, description="Payments and RG-tool use (null: none loaded for the player)"
    )


class QueueItem(Document):
    """One player in the analyst queue."""

    player_id: str
    state: str
    risk_category: Category
    composite_risk_score: float
    risk_probability: float | None = None
    primary_driver: str | None
    change_7d: float | None
    first_reached_at: datetime | None
    sla_due_at: datetime | None
    is_overdue: bool
    has_active_intervention: bool
    claimed_by: str | None = Field(
        default=None, description="The analyst working this player now (a claim not expired)"
    )
    claim_expires_at: datetime | None = None


class Queue(Document):
    """The analyst queue."""

    run_id: str | None
    as_of: datetime | None
    min_category: Category
    items: list[QueueItem]


Intervention.model_rebuild()
