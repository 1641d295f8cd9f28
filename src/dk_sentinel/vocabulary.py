"""The domain's words, each defined once.

Risk categories and the flagged (HIGH+) set, the risk components, roles, intervention types,
run kinds, the data contract's file kinds, outcome types, bet statuses and markets, payment
kinds and statuses, account event types, case states and contact results. Python reads them
from here (the models, the settings, ingest, cases; the CLI's choices and the API's schemas
through the models), and the dbt project reads the ones its SQL needs as vars
(:func:`dbt_vars`), so no model spells a category or an event type that this module does not
define. The component registry (weights, evidence sentences) stays with the settings and the
dbt project's ``risk_components`` var; a test binds the two.
"""

from __future__ import annotations

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
#: The risk components in order (scoring v4 added money_behaviour: money and RG-tool use).
COMPONENTS: tuple[Component, ...] = get_args(Component)

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


def dbt_vars() -> dict[str, Any]:
    """The words the dbt project's SQL needs, as vars (each model reads them, never literals)."""
    return {
        "categories": list(CATEGORIES),
        "high_plus_categories": list(HIGH_PLUS),
        "queue_categories": list(QUEUE_CATEGORIES),
        "rg_page_events": list(RG_PAGE_EVENTS),
    }
