"""Assessments, history and the analyst queue: pure library code over the scored tables."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from dk_sentinel.analysis.evidence import evidence_summaries
from dk_sentinel.config import Settings
from dk_sentinel.errors import InsufficientData, NotFoundError, RelationMissing, UsageError
from dk_sentinel.interventions.cases import PLAYERS_WITH_OPEN_TRIGGER
from dk_sentinel.interventions.records import INTERVENTIONS_WITH_STATUS
from dk_sentinel.models import (
    PLAYER_ID_HINT,
    PLAYER_ID_PATTERN,
    ComponentEvidence,
    Freshness,
    HistoryPoint,
    MoneyPicture,
    MoneyWindow,
    PlayerOutcome,
    Queue,
    QueueItem,
    RecentBet,
    RiskAssessment,
    rfc3339,
    utcnow,
)
from dk_sentinel.scoring import (
    PUBLISHED_RUNS,
    SERVED_MONEY,
    SERVED_SCORES,
    last_successful_run,
)
from dk_sentinel.vocabulary import (
    COMPONENT,
    COMPONENTS,
    QUEUE_CATEGORIES,
    QueueCategory,
    categories_at_or_above,
)
from dk_sentinel.warehouse import Warehouse, page_clause
from dk_sentinel.warehouse.jobs import guarded

_PLAYER_ID = re.compile(PLAYER_ID_PATTERN)
_NOT_SCORED_HINT = (
    "Has `sentinel score-batch` run since this player's bets were ingested? Is the id right?"
)
# Successful runs only (the rule lives in that dbt view): a crashed run's rows never show.
_SCORES = "{analytics}.rg_published_risk_scores s"


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


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _jsonable(value: Any) -> float | int | str | None:
    if value is None or isinstance(value, int | str):
        return value
    if isinstance(value, datetime):
        return rfc3339(value)
    return float(value)


def _latest_row(wh: Warehouse, player_id: str) -> tuple[dict[str, Any], str | None]:
    """The player's latest published score row, and the latest live run's id."""
    try:
        latest = last_successful_run(wh)
        if latest is not None:
            # the read path: one lookup in the latest live run's snapshot, checked against the
            # run (a snapshot not yet replaced is never served). Two queries: a scalar
            # subquery for the run id keeps DuckDB from pruning the lookup (8.7 ms against 4.6)
            row = _served_row(wh, SERVED_SCORES, player_id, latest.run_id)
            if row:
                return row, latest.run_id
        # not in the latest run (or no snapshot yet): the player's latest published row
        rows = wh.query_dicts(
            f"select s.* from {_SCORES} where s.player_id = ? "
            "order by s.as_of desc, s.run_finished_at desc, s.run_id desc limit 1",
            [player_id],
        )
    except RelationMissing:
        raise NotFoundError(
            f"player {player_id} not found in the risk database (nothing scored yet)",
            _NOT_SCORED_HINT,
        ) from None
    if not rows:
        raise NotFoundError(f"player {player_id} not found in the risk database", _NOT_SCORED_HINT)
    return rows[0], latest.run_id if latest else None


def _change(
    wh: Warehouse, player_id: str, as_of: datetime, now_score: float, days: int
) -> float | None:
    rows = wh.query(
        f"select s.composite_risk_score from {_SCORES} where s.player_id = ? and s.as_of <= ? "
        "order by s.as_of desc limit 1",
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
        f"from {_SCORES} where s.player_id = ? and s.as_of > ? and s.as_of <= ? order by s.as_of",
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


def freshness(wh: Warehouse, run_id: str, last_bet_at: datetime | None) -> Freshness:
    """Data freshness: last bet, last run, latest ingest, and whether scores are behind.

    Scores are behind when a load added or settled bets after the scoring run read them: a
    load stamps its bets and its ``ingest_loads`` row with one time, and the run's watermark
    is the newest of those times it saw. (Comparing with the run's start instead would warn
    after every ingest that ended in the second a run started: runs are stamped in whole
    seconds.)

    Args:
        wh: An open warehouse.
        run_id: The scoring run of the shown score.
        last_bet_at: The player's last bet in the scoring window.

    Returns:
        The freshness block.
    """
    run, ingest, newest_bets, watermark = wh.query(
        f"select (select max(finished_at) from {{ops}}.scoring_runs where {PUBLISHED_RUNS}), "
        "(select max(loaded_at) from {ops}.ingest_loads where kind = 'bets'), "
        "(select max(loaded_at) from {ops}.ingest_loads where kind = 'bets' and accepted > 0), "
        "(select max(watermark) from {ops}.scoring_runs where run_id = ?)",
        [run_id],
    )[0]
    return Freshness(
        last_bet_at=last_bet_at,
        last_run_finished_at=run,
        latest_ingest_at=ingest,
        scores_older_than_ingest=newest_bets is not None
        and (watermark is None or newest_bets > watermark),
    )


def assessment_from_row(
    row: dict[str, Any], settings: Settings, *, latest_run_id: str | None, freshness: Freshness
) -> RiskAssessment:
    """The assessment a published score row shows (no money, history or interventions yet).

    The one place a score row becomes an assessment: :func:`assess` reads the row from the
    warehouse, ``sentinel serve`` from the latest run's snapshot held in memory.

    Args:
        row: A row of ``rg_published_risk_scores`` (or of the served snapshot).
        settings: Settings (weights and wording).
        latest_run_id: The latest live run (the row is current when it is that run's).
        freshness: The freshness block (its ``last_bet_at`` is the row's).
    """
    weights = settings.scoring.weights
    summaries = evidence_summaries(row, settings)
    evidence = {
        name: ComponentEvidence(
            score=None if row[name] is None else float(row[name]),
            weight=weights[name],
            present=bool(row[f"has_{name}"]),
            summary=summaries[name],
            features={f: _jsonable(row.get(f)) for f in COMPONENT[name].features},
        )
        for name in COMPONENTS
    }
    return RiskAssessment(
        player_id=row["player_id"],
        state=row["state"],
        composite_risk_score=float(row["composite_risk_score"]),
        risk_category=row["risk_category"],
        risk_probability=_optional_float(row.get("risk_probability")),
        probability_horizon_days=row.get("probability_horizon_days"),
        profile_version=row.get("profile_version"),
        primary_driver=row["primary_driver"],
        component_scores={n: evidence[n].score for n in COMPONENTS},
        components_present=[n for n in COMPONENTS if evidence[n].present],
        evidence=evidence,
        is_low_confidence=bool(row["is_low_confidence"]),
        scored_at=row["scored_at"],
        as_of=row["as_of"],
        run_id=row["run_id"],
        is_current=row["run_id"] == latest_run_id,
        freshness=freshness,
    )


def assess(
    wh: Warehouse, settings: Settings, player_id: str, *, with_history: bool = False
) -> RiskAssessment:
    """The current risk assessment of one player (no explanation, no interventions).

    Args:
        wh: An open warehouse.
        settings: Settings (weights and wording).
        player_id: The player, already validated (once, by the use case that was asked).
        with_history: Include the last 90 days and the 7 / 30-day change.

    Returns:
        The assessment.

    Raises:
        NotFoundError: The player has never been scored.
    """
    row, latest_run_id = _latest_row(wh, player_id)
    assessment = assessment_from_row(
        row,
        settings,
        latest_run_id=latest_run_id,
        freshness=freshness(wh, row["run_id"], row["last_bet_at"]),
    )
    assessment.money = money_picture(wh, player_id, latest_run_id)
    if with_history:
        composite = assessment.composite_risk_score
        assessment.history = history(wh, player_id, row["as_of"])
        assessment.change_7d = _change(wh, player_id, row["as_of"], composite, 7)
        assessment.change_30d = _change(wh, player_id, row["as_of"], composite, 30)
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
            risk_probability=_optional_float(r.get("risk_probability")),
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


def money_picture(wh: Warehouse, player_id: str, run_id: str | None) -> MoneyPicture | None:
    """The player's payments and RG-tool use as of the latest live run (None: nothing loaded).

    One lookup in the run's snapshot (``scoring.SERVED_MONEY``, a copy of the dbt model
    ``int_player_money``: the one definition of these markers, which ``rg_risk_scores`` also
    keeps as candidate features for calibrate), served only when it is ``run_id``'s.

    Args:
        wh: An open warehouse.
        player_id: The player.
        run_id: The latest live run (None: nothing published, nothing shown).
    """
    if run_id is None:
        return None
    row = _served_row(wh, SERVED_MONEY, player_id, run_id)
    return money_from_row(row) if row else None


def _served_row(wh: Warehouse, relation: str, player_id: str, run_id: str) -> dict[str, Any] | None:
    """The player's row of a snapshot table if it is ``run_id``'s (None: none, or no table)."""
    try:
        rows = wh.query_dicts(
            f"select * from {relation} where player_id = ? and run_id = ?", [player_id, run_id]
        )
    except RelationMissing:  # no live run published since the table became part of a run
        return None
    return rows[0] if rows else None


def money_from_row(row: dict[str, Any]) -> MoneyPicture:
    """The money picture a row of the money snapshot shows (the one place it is built)."""
    return MoneyPicture(
        as_of=row["as_of"],
        windows=[
            MoneyWindow(
                days=d,
                deposits=round(float(row[f"money_deposits_{d}d"]), 2),
                deposit_count=int(row[f"money_deposit_count_{d}d"]),
                withdrawals=round(float(row[f"money_withdrawals_{d}d"]), 2),
                withdrawal_count=int(row[f"money_withdrawal_count_{d}d"]),
            )
            for d in (1, 7, 30, 90)
        ],
        cancelled_withdrawals_30d=int(row["money_cancelled_withdrawals_30d"]),
        declined_deposits_30d=int(row["money_declined_deposits_30d"]),
        payment_methods_90d=int(row["money_payment_methods_90d"]),
        limit_changes_30d=int(row["money_limit_changes_30d"]),
        rg_page_visits_30d=int(row["money_rg_page_visits_30d"]),
        session_hours_30d=round(float(row["money_session_hours_30d"]), 2),
    )
