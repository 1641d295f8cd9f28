"""Assessments, history and the analyst queue: pure library code over the scored tables."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

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


def _fmt_pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.0f}%"


_COUNTS = (
    "chased_losses", "chase_settled_losses", "recent_chased_losses", "recent_settled_losses",
    "wins_followed_bigger", "chase_settled_wins", "recent_live_bets", "recent_niche_bets",
    "recent_longshot_bets", "recent_bets_on_new_sports", "recent_late_night_bets",
)  # fmt: skip


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fmt_count(value: Any) -> str:
    """A count, or n/a on a history row written before the count was recorded (version 1)."""
    return "n/a" if value is None else str(value)


def _fmt_num(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def _ratio(log_value: Any) -> str:
    return "n/a" if log_value is None else f"{math.exp(float(log_value)):.1f}x"


def _session_sentence(row: dict[str, Any]) -> str:
    """Chasing across sessions (scoring v3): the next day's staking after losing days."""
    losing, rise = row.get("losing_days_followed"), row.get("session_chase_rise")
    if not losing or rise is None:
        return ""
    return (
        f"; the day after {losing} losing days the player staked {math.exp(float(rise)):.1f}x "
        f"what they staked after {row.get('other_days_followed') or 0} other days "
        "(each against their own level, shrunk by the days it rests on)"
    )


def _persistence_sentence(row: dict[str, Any], recent_days: int) -> str:
    """Levels read per active day beyond the book's move that day (scoring v3)."""
    if row.get("recent_log_stake_deviation") is None:
        return ""
    return (
        f"; on a typical recent day (median of {row['recent_active_days']} active days, beyond "
        "what the whole book did that day) stakes were "
        f"{_ratio(row['recent_log_stake_deviation'])} "
        f"and bets {_ratio(row.get('recent_log_bets_deviation'))} the player's own, "
        f"{row.get('recent_elevated_days') or 0} of those days elevated; "
        f"{_fmt_num(row['recent_bets_per_active_day'])} bets per active day vs "
        f"{_fmt_num(row['baseline_bets_per_active_day'])}, active {row['recent_active_days']} of "
        f"the last {recent_days} days vs {row['baseline_active_days']} before"
    )


def evidence_summaries(row: dict[str, Any], settings: Settings) -> dict[str, str]:
    """The evidence of each component in plain words, citing its numbers.

    Args:
        row: A row of ``rg_risk_scores``.
        settings: Settings (window lengths, thresholds used in the wording).

    Returns:
        Component -> one sentence.
    """
    s = settings.scoring
    c = {k: _fmt_count(row.get(k)) for k in _COUNTS}
    chase = (
        f"{c['chased_losses']} of {c['chase_settled_losses']} settled losses in the last "
        f"{s.chase_lookback_days} days ({c['recent_chased_losses']} of "
        f"{c['recent_settled_losses']} in the last {s.recent_window_days}) were followed within "
        f"{s.chase_window_minutes} min by a bet of at least {s.chase_stake_ratio:g}x "
        "the usual stake"
    )
    if row["chased_losses"]:
        chase += (
            f"; those bets were {_fmt_num(row['chase_stake_ratio'])}x the baseline median stake, "
            f"a median {_fmt_num(row['median_minutes_to_chase'], 0)} min after the loss settled"
        )
    chase += (
        f" (after wins: {c['wins_followed_bigger']} of {c['chase_settled_wins']}; "
        f"expected rate {_fmt_pct(row.get('expected_chase_rate'))})"
    )
    chase += _session_sentence(row)
    escalation = (
        f"median stake {_fmt_num(row['recent_median_stake'], 2)} "
        f"in the last {s.recent_window_days} "
        f"days vs {_fmt_num(row['baseline_median_stake'], 2)} before "
        f"({_fmt_num(row['stake_ratio'])}x)"
    )
    escalation += _persistence_sentence(row, s.recent_window_days)
    if row["weekly_stake_growth"] is not None:
        escalation += (
            f"; stake trend over the window {float(row['weekly_stake_growth']) * 100:+.0f}% "
            "per week"
        )
    recent = row["recent_bets"]
    drift = (
        f"live bets {c['recent_live_bets']} of {recent} recent "
        f"({_fmt_pct(row['recent_live_share'])}; "
        f"expected {_fmt_pct(row.get('expected_live_share'))}, "
        f"{_fmt_pct(row['baseline_live_share'])} before); niche sports {c['recent_niche_bets']} "
        f"of {recent} (expected {_fmt_pct(row.get('expected_niche_share'))}); longshots (odds >= "
        f"{s.longshot_odds:g}) {c['recent_longshot_bets']} of {recent} (expected "
        f"{_fmt_pct(row.get('expected_longshot_share'))}); {c['recent_bets_on_new_sports']} of "
        f"{recent} recent bets on sports never bet before"
    )
    temporal = (
        f"late-night ({s.late_night_start_hour:02d}:00-{s.late_night_end_hour:02d}:00 local) bets "
        f"{c['recent_late_night_bets']} of {recent} recent "
        f"({_fmt_pct(row['recent_late_night_share'])}; expected "
        f"{_fmt_pct(row.get('expected_late_night_share'))}, "
        f"{_fmt_pct(row['baseline_late_night_share'])} before)"
    )
    if row.get("recent_median_day_minutes") is not None:
        temporal += (
            f"; a median {_fmt_num(row['recent_median_day_minutes'], 0)} min from first to "
            "last bet on recent active days vs "
            f"{_fmt_num(row.get('baseline_median_day_minutes'), 0)} before"
        )
    if row["gamalyze_risk_score"] is not None:
        gamalyze = (
            f"Gamalyze risk score {_fmt_num(row['gamalyze_risk_score'], 0)}/100 "
            f"assessed {row['gamalyze_assessed_at']:%Y-%m-%d}"
        )
    else:
        gamalyze = f"no Gamalyze assessment in the {s.gamalyze_staleness_days} days before scoring"
    if not row["has_bet_escalation"]:
        escalation = drift = f"absent: fewer than {s.min_baseline_bets} bets in the baseline window"
        if not row.get("has_temporal_risk"):
            temporal = escalation
        else:
            temporal += " (a new account: against the population's share)"
    return {
        "loss_chase": chase,
        "bet_escalation": escalation,
        "market_drift": drift,
        "temporal_risk": temporal,
        "money_behaviour": money_sentence(row, settings),
        "gamalyze": gamalyze,
    }


#: money_behaviour's markers in the order the evidence names them: (column stem, words).
#: Each marker's words; ``{s}`` is the plural's ending (blank for one).
_MONEY_MARKERS = (
    ("deposits_after_loss", "deposit{s} within {minutes} min after a lost bet settled"),
    ("reloads", "deposit{s} within 2 hours of the previous one"),
    ("reversed_withdrawals", "withdrawal{s} reversed (cancelled to keep playing)"),
    ("declined_deposits", "deposit{s} declined"),
    ("limit_raises", "deposit limit raise{s}"),
    ("limit_removals", "deposit limit removal{s}"),
    ("self_exclusion_views", "self-exclusion page view{s}"),
    ("rg_contacts", "contact{s} with RG support"),
)


def _counted(count: int, words: str, **values: Any) -> str:
    """``count`` and ``words`` in the right number: "1 deposit", "2 deposits"."""
    return f"{count} " + words.format(s="" if count == 1 else "s", **values)


def money_sentence(row: dict[str, Any], settings: Settings) -> str:
    """The money and RG-tool evidence of a score row in plain words, with its counts.

    Args:
        row: A row of ``rg_risk_scores`` (scoring v4; older rows have no money statistics).
        settings: Settings (window lengths).

    Returns:
        One sentence: the markers seen in the recent window against the baseline window, or
        why the component is absent.
    """
    if row.get("money_behaviour") is None:
        if row.get("money_recent_deposits") is None:
            return "absent: scored before money and RG-tool evidence was part of the score"
        return "absent: no payments or account events are loaded (money evidence missing)"
    recent = settings.scoring.recent_window_days
    parts: list[str] = []
    for stem, words in _MONEY_MARKERS:
        now = int(row.get(f"money_recent_{stem}") or 0)
        before = int(row.get(f"money_baseline_{stem}") or 0)
        if now or before:
            text = _counted(now, words, minutes=settings.scoring.chase_window_minutes)
            parts.append(f"{text} in the last {recent} days, {before} before")
    methods = int(row.get("money_recent_deposit_methods") or 0)
    if methods > 2:
        parts.append(f"{methods} deposit methods used in the last {recent} days")
    deposits = int(row.get("money_recent_deposits") or 0)
    expected = row.get("money_expected_deposits")
    summary = _counted(deposits, "deposit{s}") + f" in the last {recent} days"
    if expected is not None and not row.get("is_new_account"):
        summary += f" (expected {_fmt_num(expected)} from the player's own past and the book)"
    protective = int(row.get("money_recent_protective_acts") or 0)
    if protective:
        acts = _counted(protective, "protective act{s} (limit set or lowered, timeout)")
        summary += f"; {acts}: protective acts never raise the score"
    if not parts:
        return summary + "; no money or RG-tool risk markers"
    return summary + "; " + "; ".join(parts)


_FEATURES = {
    "loss_chase": (
        "chase_settled_losses", "chased_losses", "chased_loss_share", "recent_settled_losses",
        "recent_chased_losses", "chase_settled_wins", "wins_followed_bigger",
        "bigger_after_win_share", "expected_chase_rate", "median_minutes_to_chase",
        "chase_stake_ratio", "chase_rise", "losing_days_followed", "other_days_followed",
        "session_chase_rise",
    ),
    "bet_escalation": (
        "baseline_median_stake", "recent_median_stake", "stake_ratio", "weekly_stake_growth",
        "recent_active_days", "baseline_active_days", "recent_log_stake_deviation",
        "recent_log_bets_deviation", "recent_elevated_days", "stake_trend_rise",
        "intensity_rise", "recent_bets_per_active_day", "baseline_bets_per_active_day",
    ),
    "market_drift": (
        "recent_bets", "recent_evidence_weight", "recent_live_bets", "recent_live_share",
        "baseline_live_share", "expected_live_share", "recent_niche_bets", "recent_niche_share",
        "baseline_niche_share", "expected_niche_share", "recent_longshot_bets",
        "recent_longshot_share", "baseline_longshot_share", "expected_longshot_share",
        "recent_bets_on_new_sports", "recent_new_sport_share", "recent_personal_new_sport_bets",
    ),
    "temporal_risk": (
        "recent_bets", "recent_late_night_bets", "recent_late_night_share",
        "baseline_late_night_share", "expected_late_night_share", "recent_active_days",
        "recent_median_day_minutes", "baseline_median_day_minutes",
    ),
    "money_behaviour": (
        "money_recent_deposits", "money_expected_deposits", "money_recent_deposits_after_loss",
        "money_baseline_deposits_after_loss", "money_expected_deposits_after_loss",
        "money_recent_reloads", "money_recent_reversed_withdrawals",
        "money_baseline_reversed_withdrawals", "money_recent_declined_deposits",
        "money_recent_deposit_methods", "money_recent_limit_raises",
        "money_recent_limit_removals", "money_recent_self_exclusion_views",
        "money_recent_rg_contacts", "money_recent_protective_acts", "is_new_account",
    ),
    "gamalyze": ("gamalyze_assessment_id", "gamalyze_risk_score"),
}  # fmt: skip


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
    weights = settings.scoring.weights.model_dump()
    summaries = evidence_summaries(row, settings)
    evidence = {
        name: ComponentEvidence(
            score=None if row[name] is None else float(row[name]),
            weight=weights[name],
            present=bool(row[f"has_{name}"]),
            summary=summaries[name],
            features={f: _jsonable(row.get(f)) for f in _FEATURES[name]},
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
