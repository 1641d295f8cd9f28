"""Assessments, history and the analyst queue: pure library code over the scored tables."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dk_sentinel.analysis.published import (
    PUBLISHED_SCORES,
    WarehouseScores,
    assemble,
    optional_float,
)
from dk_sentinel.config import Settings
from dk_sentinel.errors import InsufficientData, NotFoundError, RelationMissing, UsageError
from dk_sentinel.interventions.cases import PLAYERS_WITH_OPEN_TRIGGER
from dk_sentinel.interventions.records import INTERVENTIONS_WITH_STATUS
from dk_sentinel.models import (
    PLAYER_ID_HINT,
    PLAYER_ID_PATTERN,
    HistoryPoint,
    PlayerOutcome,
    Queue,
    QueueItem,
    RecentBet,
    RiskAssessment,
    utcnow,
)
from dk_sentinel.vocabulary import (
    COMPONENTS,
    QUEUE_CATEGORIES,
    QueueCategory,
    categories_at_or_above,
)
from dk_sentinel.warehouse import Warehouse, page_clause
from dk_sentinel.warehouse.jobs import guarded

_PLAYER_ID = re.compile(PLAYER_ID_PATTERN)


def validate_player_id(player_id: str) -> str:
    """Check a player id against the contract pattern.

    Args:
        player_id: The id as typed.

    Returns:
        The id.

    Raises:
        UsageError: The id does not match the contract's pattern (models.PLAYER_ID_PATTERN).
    """
    if not _PLAYER_ID.match(player_id):
        raise UsageError(f"'{player_id}' is not a valid player id", PLAYER_ID_HINT)
    return player_id


def _change(
    wh: Warehouse, player_id: str, as_of: datetime, now_score: float, days: int
) -> float | None:
    rows = wh.query(
        f"select s.composite_risk_score from {PUBLISHED_SCORES} "
        "where s.player_id = ? and s.as_of <= ? order by s.as_of desc limit 1",
        [player_id, as_of - timedelta(days=days)],
    )
    return round(now_score - float(rows[0][0]), 6) if rows else None


def history(wh: Warehouse, player_id: str, as_of: datetime, days: int = 90) -> list[HistoryPoint]:
    """Composite, category and components at each successful run over the last ``days`` days.

    Args:
        wh: An open warehouse.
        player_id: The player.
        as_of: The end of the period.
        days: Length of the period.

    Returns:
        Points, oldest first.
    """
    components = ", ".join(f"s.{c}" for c in COMPONENTS)
    rows = wh.query_dicts(
        f"select s.as_of, s.run_id, s.composite_risk_score, s.risk_category, {components} "
        f"from {PUBLISHED_SCORES} where s.player_id = ? and s.as_of > ? and s.as_of <= ? "
        "order by s.as_of",
        [player_id, as_of - timedelta(days=days), as_of],
    )
    return [HistoryPoint.model_validate(r) for r in rows]


def recent_bets(wh: Warehouse, player_id: str, limit: int = 20) -> list[RecentBet]:
    """The player's latest bets as held, newest first.

    Args:
        wh: An open warehouse.
        player_id: The player.
        limit: At most this many.

    Returns:
        The bets.
    """
    rows = wh.query_dicts(
        "select bet_id, placed_at, settled_at, sport, market, is_live, odds_decimal, stake, "
        "payout, status from {raw}.bets where player_id = ? order by placed_at desc, bet_id"
        f"{page_clause(limit)}",
        [player_id],
    )
    return [RecentBet.model_validate(r) for r in rows]


def player_outcomes(wh: Warehouse, player_id: str) -> list[PlayerOutcome]:
    """The harmful outcomes recorded for the player, oldest first."""
    rows = wh.query_dicts(
        "select event_at, event_type from {raw}.outcomes where player_id = ? "
        "order by event_at, event_type",
        [player_id],
    )
    return [PlayerOutcome.model_validate(r) for r in rows]


def assess(
    wh: Warehouse,
    settings: Settings,
    player_id: str,
    *,
    now: datetime,
    with_history: bool = False,
) -> RiskAssessment:
    """The current risk assessment of one player from the warehouse (no explanation).

    Args:
        wh: An open warehouse.
        settings: Settings (weights and wording).
        player_id: The player, already validated (once, by the use case that was asked).
        now: What "in force" means for the open interventions.
        with_history: Include the last 90 days and the 7 / 30-day change.

    Returns:
        The assessment, with its money picture and open interventions.

    Raises:
        NotFoundError: The player has never been scored.
    """
    assessment = assemble(WarehouseScores(wh, now), settings, player_id)
    if with_history:
        composite, as_of = assessment.composite_risk_score, assessment.as_of
        assessment.history = history(wh, player_id, as_of)
        assessment.change_7d = _change(wh, player_id, as_of, composite, 7)
        assessment.change_30d = _change(wh, player_id, as_of, composite, 30)
    return assessment


#: The review queue with its open interventions (the time is its parameter: what is in force
#: now), and the one overdue rule (the SLA due time has passed -- the time again -- and nothing
#: is in force): the queue and the report's counts read them.
_QUEUE_FROM = f"""from {{analytics}}.rg_review_queue q
    left join (select distinct player_id from {INTERVENTIONS_WITH_STATUS} i
               where status = 'active') a on a.player_id = q.player_id"""
_OVERDUE = "coalesce(q.sla_due_at < ?, false) and a.player_id is null"
#: The claims not yet expired (one ``?``: now), a player's latest.
ACTIVE_CLAIMS = """(select player_id, max(analyst_id) as claimed_by,
    max(expires_at) as claim_expires_at from {ops}.queue_claims where expires_at > ?
    group by player_id)"""


def claim_next(wh: Warehouse, queue: Queue, analyst_id: str, minutes: float,
               now: datetime) -> QueueItem:  # fmt: skip
    """Claim the first player of ``queue`` nobody else is working, for ``minutes``.

    The analyst's own claim is renewed; a claim by someone else is skipped until it expires.
    Read and written inside a write guard: two analysts asking at once get two players.

    Raises:
        NotFoundError: Every player of the queue is claimed by someone else (or it is empty).
    """

    def write() -> QueueItem:
        claims: dict[str, str] = dict(wh.query(
            f"select c.player_id, c.claimed_by from {ACTIVE_CLAIMS} c", [now]
        ))  # fmt: skip
        for item in queue.items:
            if claims.get(item.player_id, analyst_id) == analyst_id:
                expires = now + timedelta(minutes=minutes)
                wh.execute("delete from {ops}.queue_claims where player_id = ?", [item.player_id])
                wh.execute("insert into {ops}.queue_claims values (?, ?, ?, ?)",
                           [item.player_id, analyst_id, now, expires])  # fmt: skip
                return item.model_copy(update={"claimed_by": analyst_id,
                                               "claim_expires_at": expires})  # fmt: skip
        raise NotFoundError(
            "no player left to claim in this queue",
            "Every player in it is claimed by another analyst; widen it (--category MEDIUM) or "
            "wait for a claim to expire.",
        )

    return guarded(wh, "claims", now, write)


def queue_counts(wh: Warehouse, *, now: datetime | None = None) -> tuple[int, int]:
    """The queue's size and how many in it are overdue, in one count query.

    The queue as analysts see it: players HIGH or above in the latest run with nothing in
    force. One count query (the report used to build the whole queue to count it).

    Args:
        wh: An open warehouse.
        now: The time SLAs are measured against (default now, UTC).

    Returns:
        ``(open, overdue)``; ``(0, 0)`` before any scoring.
    """
    allowed = categories_at_or_above("HIGH")
    now = now or utcnow()
    try:
        rows = wh.query(
            f"""select count(*), coalesce(sum(case when {_OVERDUE} then 1 else 0 end), 0)
            {_QUEUE_FROM}
            where q.risk_category in ({", ".join("?" for _ in allowed)})
              and a.player_id is null""",
            [now, now, *allowed],
        )
    except RelationMissing:
        return 0, 0
    return int(rows[0][0]), int(rows[0][1])


def build_queue(
    wh: Warehouse,
    *,
    min_category: QueueCategory = "HIGH",
    state: str | None = None,
    limit: int = 50,
    include_actioned: bool = False,
    overdue: bool = False,
    trigger: str | None = None,
    now: datetime | None = None,
    offset: int = 0,
) -> Queue:
    """Players at or above ``min_category`` in the latest run, highest composite first.

    The streak start and SLA due time come from the dbt view ``rg_review_queue``; open
    interventions (which change between runs) are joined here. Equal composites are ordered
    by the sum of the components, so several strong signals come before one.

    Args:
        wh: An open warehouse.
        min_category: CRITICAL, HIGH or MEDIUM.
        state: Only players of this state (two letters).
        limit: At most this many players.
        include_actioned: Keep players with an active intervention.
        overdue: Only players past their SLA due time.
        trigger: Only players with an open case carrying this trigger code.
        now: The time SLAs are measured against (default now, UTC).
        offset: Skip this many players first (a page's start).

    Returns:
        The queue (empty when nothing was scored yet).

    Raises:
        UsageError: An unknown category or a malformed state code.
    """
    if min_category not in QUEUE_CATEGORIES:
        raise UsageError(
            f"unknown category {min_category!r}", f"Use {', '.join(QUEUE_CATEGORIES)}."
        )
    if state is not None and not re.fullmatch(r"[A-Z]{2}", state):
        raise UsageError(f"'{state}' is not a two-letter state code", "e.g. --state NJ")
    now = now or utcnow()
    allowed = categories_at_or_above(min_category)
    try:
        rows = wh.query_dicts(
            f"""select q.*, a.player_id is not null as has_active_intervention,
                {_OVERDUE} as is_overdue, c.claimed_by, c.claim_expires_at
            {_QUEUE_FROM}
            left join {ACTIVE_CLAIMS} c on c.player_id = q.player_id
            where q.risk_category in ({", ".join("?" for _ in allowed)})
              and (cast(? as varchar) is null or q.state = ?)
              and (? or a.player_id is null)
              and (not ? or {_OVERDUE})
              and (cast(? as varchar) is null or q.player_id in {PLAYERS_WITH_OPEN_TRIGGER})
            order by q.composite_risk_score desc, q.evidence_strength desc, q.player_id
            {page_clause(limit, offset)}""",
            [now, now, now, *allowed, state, state, include_actioned, overdue, now, trigger,
             trigger],
        )  # fmt: skip
    except RelationMissing:  # initialised, never scored: no queue, not an empty one
        raise InsufficientData(
            "the warehouse has no scores yet, so there is no queue",
            "Load bets with `sentinel ingest bets FILE`, then run `sentinel score-batch`.",
        ) from None
    items = [
        QueueItem(
            player_id=r["player_id"],
            state=r["state"],
            risk_category=r["risk_category"],
            composite_risk_score=float(r["composite_risk_score"]),
            risk_probability=optional_float(r.get("risk_probability")),
            primary_driver=r["primary_driver"],
            change_7d=None if r["change_7d"] is None else round(float(r["change_7d"]), 6),
            first_reached_at=r["first_reached_at"],
            sla_due_at=r["sla_due_at"],
            is_overdue=bool(r["is_overdue"]),
            has_active_intervention=bool(r["has_active_intervention"]),
            claimed_by=r.get("claimed_by"),
            claim_expires_at=r.get("claim_expires_at"),
        )
        for r in rows
    ]
    return Queue(
        run_id=rows[0]["run_id"] if rows else None,
        as_of=rows[0]["as_of"] if rows else None,
        min_category=min_category,
        items=items,
    )
