"""The domain's words, each defined once.

Risk categories and the flagged (HIGH+) set, the risk components, roles, intervention types,
run kinds, the data contract's file kinds, outcome types, bet statuses and markets, payment
kinds and statuses, account event types, case states and contact results. Python reads them
from here (the models, the settings, ingest, cases; the CLI's choices and the API's schemas
through the models), and the dbt project reads the ones its SQL needs as vars
(:func:`dbt_vars`), so no model spells a category or an event type that this module does not
define. The risk components are a registry (:data:`REGISTRY`): each entry's default weight,
whether it is behavioural, the evidence columns shown with it and its nudge line; the settings'
weights, the dbt project's ``risk_components`` var, calibrate's features and the template
nudge derive from it (see the README's "Adding a component").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

#: What an API key may do; roles nest (an analyst may also do what a viewer may).
Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

Category = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
#: Highest first.
CATEGORIES: tuple[Category, ...] = get_args(Category)
#: The categories a review queue can start from.
QueueCategory = Literal["CRITICAL", "HIGH", "MEDIUM"]
QUEUE_CATEGORIES: tuple[QueueCategory, ...] = get_args(QueueCategory)


def categories_at_or_above(category: Category) -> list[Category]:
    """The categories at or above ``category`` (e.g. HIGH -> CRITICAL, HIGH)."""
    return list(CATEGORIES[: CATEGORIES.index(category) + 1])


#: "HIGH or above": the flagged players. A case opens for them, the queue starts there, and
#: precision and recall "at HIGH+" count them.
HIGH_PLUS: tuple[Category, ...] = tuple(categories_at_or_above("HIGH"))

Component = Literal[
    "loss_chase", "bet_escalation", "market_drift", "temporal_risk", "money_behaviour", "gamalyze"
]
#: The risk components in order, which is also the primary driver's tie order (scoring v4
#: added money_behaviour: money and RG-tool use).
COMPONENTS: tuple[Component, ...] = get_args(Component)


@dataclass(frozen=True)
class ComponentEntry:
    """One risk component: what the rest of the product derives from its name.

    Attributes:
        name: The component (a column of ``rg_risk_scores``, computed by the dbt project).
        label: Its short name in tables and charts.
        default_weight: Its weight in the composite unless ``[scoring.weights]`` says otherwise
            (the defaults sum to 1).
        behavioural: Read from the player's own betting and money: it can be the composite's
            floor (a self-assessment only tops the composite up).
        features: The score row's columns shown as its evidence (``analyze --format json``).
        nudge: The template nudge's line when it drives the score (None: the general line).
        sometimes_missing: Null on rows scored before it existed or without its data:
            calibrate offers it only when every row has it.
    """

    name: Component
    label: str
    default_weight: float
    behavioural: bool
    features: tuple[str, ...]
    nudge: str | None = None
    sometimes_missing: bool = False


# The evidence columns of each component (its entry's ``features``).
_CHASE_EVIDENCE = (
    "chase_settled_losses", "chased_losses", "chased_loss_share", "recent_settled_losses",
    "recent_chased_losses", "chase_settled_wins", "wins_followed_bigger",
    "bigger_after_win_share", "expected_chase_rate", "median_minutes_to_chase",
    "chase_stake_ratio", "chase_rise", "losing_days_followed", "other_days_followed",
    "session_chase_rise",
)  # fmt: skip
_ESCALATION_EVIDENCE = (
    "baseline_median_stake", "recent_median_stake", "stake_ratio", "weekly_stake_growth",
    "recent_active_days", "baseline_active_days", "recent_log_stake_deviation",
    "recent_log_bets_deviation", "recent_elevated_days", "stake_trend_rise",
    "intensity_rise", "recent_bets_per_active_day", "baseline_bets_per_active_day",
)  # fmt: skip
_DRIFT_EVIDENCE = (
    "recent_bets", "recent_evidence_weight", "recent_live_bets", "recent_live_share",
    "baseline_live_share", "expected_live_share", "recent_niche_bets", "recent_niche_share",
    "baseline_niche_share", "expected_niche_share", "recent_longshot_bets",
    "recent_longshot_share", "baseline_longshot_share", "expected_longshot_share",
    "recent_bets_on_new_sports", "recent_new_sport_share", "recent_personal_new_sport_bets",
)  # fmt: skip
_TEMPORAL_EVIDENCE = (
    "recent_bets", "recent_late_night_bets", "recent_late_night_share",
    "baseline_late_night_share", "expected_late_night_share", "recent_active_days",
    "recent_median_day_minutes", "baseline_median_day_minutes",
)  # fmt: skip
_MONEY_EVIDENCE = (
    "money_recent_deposits", "money_expected_deposits", "money_recent_deposits_after_loss",
    "money_baseline_deposits_after_loss", "money_expected_deposits_after_loss",
    "money_recent_reloads", "money_recent_reversed_withdrawals",
    "money_baseline_reversed_withdrawals", "money_recent_declined_deposits",
    "money_recent_deposit_methods", "money_recent_limit_raises",
    "money_recent_limit_removals", "money_recent_self_exclusion_views",
    "money_recent_rg_contacts", "money_recent_protective_acts", "is_new_account",
)  # fmt: skip

#: The registry, in :data:`COMPONENTS` order. Weights: v3's x 0.8 and 0.20 for
#: money_behaviour, so a book without payments or account events (money_behaviour absent, its
#: weight renormalised away) scores as in v3.
REGISTRY: tuple[ComponentEntry, ...] = (
    ComponentEntry(
        "loss_chase", "Loss chase", 0.24, behavioural=True, features=_CHASE_EVIDENCE,
        nudge="Taking a short break after a loss can help you keep betting fun.",
    ),
    ComponentEntry(
        "bet_escalation", "Bet escalation", 0.20, behavioural=True, features=_ESCALATION_EVIDENCE,
        nudge="It can help to check in on how much you're wagering lately.",
    ),
    ComponentEntry(
        "market_drift", "Market drift", 0.12, behavioural=True, features=_DRIFT_EVIDENCE,
        nudge="Trying new kinds of bets is part of the game; a pause can help.",
    ),
    ComponentEntry(
        "temporal_risk", "Temporal", 0.08, behavioural=True, features=_TEMPORAL_EVIDENCE,
        nudge="Late-night sessions can run longer than planned; a check-in can help.",
    ),
    ComponentEntry(
        "money_behaviour", "Money", 0.20, behavioural=True, features=_MONEY_EVIDENCE,
        nudge="It can help to keep an eye on how often you top up your account.",
        sometimes_missing=True,
    ),
    ComponentEntry(
        "gamalyze", "Gamalyze", 0.16, behavioural=False,
        features=("gamalyze_assessment_id", "gamalyze_risk_score"),
    ),
)  # fmt: skip
if tuple(entry.name for entry in REGISTRY) != COMPONENTS:  # pragma: no cover - a developer's slip
    raise RuntimeError("vocabulary.REGISTRY must list every Component once, in order")
#: A component's entry by name.
COMPONENT: dict[Component, ComponentEntry] = {entry.name: entry for entry in REGISTRY}

InterventionType = Literal["nudge", "timeout", "watchlist", "referral"]
INTERVENTION_TYPES: tuple[InterventionType, ...] = get_args(InterventionType)

#: The data contract's file kinds (payments and account_events: contract v1.1).
ContractKind = Literal["bets", "assessments", "outcomes", "payments", "account_events"]
#: ``live``: a run analysts see (its scores become the latest when it succeeds); ``replay``: a
#: past as-of scored for backtests and calibration, never shown as latest.
RunKind = Literal["live", "replay"]

#: The outcome event types of the data contract (section 3): ingest checks files against it,
#: [outcomes] harmful_event_types picks from it, the generator writes it.
OutcomeType = Literal[
    "self_exclusion", "rg_account_closure", "cooling_off", "limit_breach", "other"
]
OUTCOME_TYPES: tuple[str, ...] = get_args(OutcomeType)

#: A bet's status (data contract section 1); every status but pending is a settlement.
SETTLED_STATUSES = ("won", "lost", "push", "void", "cashout")
BET_STATUSES = (*SETTLED_STATUSES, "pending")
MARKETS = ("moneyline", "spread", "total", "prop", "parlay", "futures", "other")
PAYMENT_KINDS = ("deposit", "withdrawal")
#: cancelled: withdrawn by the player before it was paid out ("reversed withdrawal");
#: reversed: a completed payment charged back.
PAYMENT_STATUSES = ("completed", "pending", "declined", "cancelled", "reversed")
ACCOUNT_EVENT_TYPES = (
    "deposit_limit_set", "deposit_limit_increased", "deposit_limit_decreased",
    "deposit_limit_removed", "timeout_started", "self_exclusion_page_viewed",
    "self_exclusion_started", "rg_page_viewed", "session_started", "session_ended",
    "contact_rg", "login",
)  # fmt: skip
#: The RG pages a player reads (a marker counts the visits).
RG_PAGE_EVENTS = ("rg_page_viewed", "self_exclusion_page_viewed")
LIMIT_PERIODS = ("day", "week", "month")

CaseState = Literal["open", "in_contact", "actioned", "suspended", "closed", "contested"]
CASE_STATES: tuple[CaseState, ...] = get_args(CaseState)
#: Every case a player can still be on the list by.
OPEN_STATES: tuple[CaseState, ...] = tuple(s for s in CASE_STATES if s != "closed")
ContactResult = Literal["reached", "no_answer", "refused"]
CONTACT_RESULTS: tuple[ContactResult, ...] = get_args(ContactResult)


def sql_list(words: tuple[str, ...] | list[str]) -> str:
    """Words as a SQL list of string literals: ``('CRITICAL', 'HIGH')``."""
    return "(" + ", ".join(f"'{w}'" for w in words) + ")"


def dbt_vars(weights: dict[Component, float] | None = None) -> dict[str, Any]:
    """The words the dbt project's SQL needs, as vars (each model reads them, never literals).

    Args:
        weights: The configured weight of each component (None: the registry's defaults).
    """
    weight = weights or {c.name: c.default_weight for c in REGISTRY}
    return {
        "categories": list(CATEGORIES),
        "high_plus_categories": list(HIGH_PLUS),
        "queue_categories": list(QUEUE_CATEGORIES),
        "rg_page_events": list(RG_PAGE_EVENTS),
        "risk_components": [
            {"name": c.name, "behavioural": c.behavioural, "weight": weight[c.name]}
            for c in REGISTRY
        ],
    }
