"""Backtests: how well past scores foretold later harmful outcomes.

A **labelled score** is one row of the score history (a player at a successful run, live or
replayed) with its label: did a harmful outcome (``[outcomes] harmful_event_types``) follow
within the horizon after the run's as-of, i.e. in ``(as_of, as_of + horizon]``? A player whose
harmful outcome came at or before the as-of is left out of that run (their episode has already
happened). A run counts only when its whole label window has been observed: ``as_of +
horizon`` is no later than the newest bet or outcome held. When several runs share an as-of,
the latest finished one is used. Scores never read outcomes, and a score as of T reads nothing
placed after T (the dbt models filter on it): both are proven by tests.

The same labelled rows feed :mod:`dk_sentinel.outcomes.calibration`.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import Field

from dk_sentinel.config import Settings
from dk_sentinel.errors import InsufficientData, RelationMissing
from dk_sentinel.metrics import roc_auc
from dk_sentinel.models import Document
from dk_sentinel.vocabulary import CATEGORIES, COMPONENTS, categories_at_or_above
from dk_sentinel.warehouse import Warehouse

_HIGH_PLUS = frozenset(categories_at_or_above("HIGH"))


@dataclass
class LabelledScores:
    """Score rows with labels, one list entry per (run, player)."""

    horizon_days: int
    event_types: list[str]
    observed_until: datetime | None
    run_ids: list[str] = field(default_factory=list)
    as_of: list[datetime] = field(default_factory=list)
    player_ids: list[str] = field(default_factory=list)
    composite: list[float] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    label: list[bool] = field(default_factory=list)
    outcome_at: list[datetime | None] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)
    excluded_prior_outcome: int = 0
    excluded_later_outcome: int = 0
    runs_unobserved: int = 0

    @property
    def rows(self) -> int:
        """Number of labelled rows."""
        return len(self.label)

    @property
    def positives(self) -> int:
        """Rows whose label is positive."""
        return sum(self.label)


def _outcome_times(wh: Warehouse, event_types: Sequence[str]) -> dict[str, list[datetime]]:
    marks = ", ".join("?" for _ in event_types)
    rows = wh.query(
        f"select player_id, event_at from {{raw}}.outcomes where event_type in ({marks}) "
        "order by player_id, event_at",
        list(event_types),
    )
    times: dict[str, list[datetime]] = {}
    for player_id, event_at in rows:
        times.setdefault(str(player_id), []).append(event_at)
    return times


def count_outcomes(wh: Warehouse, event_types: Sequence[str]) -> int:
    """How many outcomes of these types are held (any time)."""
    marks = ", ".join("?" for _ in event_types)
    rows = wh.query(
        f"select count(*) from {{raw}}.outcomes where event_type in ({marks})", list(event_types)
    )
    return int(rows[0][0])


def observed_until(wh: Warehouse) -> datetime | None:
    """The newest bet or outcome held: label windows ending later are not yet observed."""
    bets, outcomes = wh.query(
        "select (select max(placed_at) from {raw}.bets), (select max(event_at) from {raw}.outcomes)"
    )[0]
    known = [t for t in (bets, outcomes) if t is not None]
    return max(known) if known else None


def labelled_scores(
    wh: Warehouse,
    settings: Settings,
    *,
    horizon_days: int | None = None,
    since: date | None = None,
    until: date | None = None,
    columns: Sequence[str] = COMPONENTS,
    later_outcomes: Literal["negative", "leave_out"] = "negative",
) -> LabelledScores:
    """The labelled score rows of every observed successful run in the period.

    ``later_outcomes`` decides the rows of a player whose harmful outcome comes *after* the
    horizon: the backtest counts them as negatives (the honest prospective measure: the score
    should not have fired yet); calibration leaves them out, because a player 60 days before
    self-excluding is neither a case yet nor a control, and teaching the model that such
    play is safe would punish early detection.

    Args:
        wh: An open warehouse.
        settings: Settings (harmful event types, default horizon).
        horizon_days: Label horizon (default ``[outcomes] horizon_days``).
        since: Only runs as of this day or later.
        until: Only runs as of this day or earlier.
        columns: Score columns to fetch besides the composite and category.
        later_outcomes: ``negative`` or ``leave_out`` (see above).

    Returns:
        The rows, their labels and the requested columns.
    """
    horizon = horizon_days or settings.outcomes.horizon_days
    types = [str(t) for t in settings.outcomes.harmful_event_types]
    end = observed_until(wh)
    data = LabelledScores(horizon_days=horizon, event_types=types, observed_until=end)
    data.values = {c: [] for c in columns}
    if end is None:
        return data
    start = datetime.combine(since, time()) if since else None
    stop = datetime.combine(until + timedelta(days=1), time()) if until else None
    runs = wh.query(
        "select run_id, as_of from {ops}.scoring_runs where status = 'success' "
        "and (cast(? as timestamp) is null or as_of >= ?) "
        "and (cast(? as timestamp) is null or as_of < ?) "
        "order by as_of, finished_at",
        [start, start, stop, stop],
    )
    latest_per_as_of: dict[datetime, str] = {}
    for run_id, as_of in runs:
        latest_per_as_of[as_of] = str(run_id)
    window = timedelta(days=horizon)
    chosen = {r: a for a, r in latest_per_as_of.items() if a + window <= end}
    data.runs_unobserved = len(latest_per_as_of) - len(chosen)
    if not chosen:
        return data
    outcomes = _outcome_times(wh, types)
    present = {
        str(r[0]).lower()
        for r in wh.query(
            "select column_name from information_schema.columns where "
            "lower(table_schema) = lower(?) and lower(table_name) = 'rg_risk_scores'",
            [wh.schemas.analytics],
        )
    }
    # a column added by a newer scoring version is null on rows written before it
    picked = ", ".join(f"s.{c}" if c in present else f"null as {c}" for c in columns)
    marks = ", ".join("?" for _ in chosen)
    try:
        rows = wh.query(
            f"select s.run_id, s.player_id, s.composite_risk_score, s.risk_category, {picked} "
            f"from {{analytics}}.rg_risk_scores s where s.run_id in ({marks}) "
            "order by s.run_id, s.player_id",
            list(chosen),
        )
    except RelationMissing:
        return data
    for run_id, player_id, composite, category, *values in rows:
        as_of = chosen[run_id]
        times = outcomes.get(player_id, [])
        first_after = bisect.bisect_right(times, as_of)
        if first_after > 0:  # a harmful outcome at or before the as-of: episode already over
            data.excluded_prior_outcome += 1
            continue
        next_outcome = times[first_after] if first_after < len(times) else None
        positive = next_outcome is not None and next_outcome <= as_of + window
        if next_outcome is not None and not positive and later_outcomes == "leave_out":
            data.excluded_later_outcome += 1
            continue
        data.run_ids.append(run_id)
        data.as_of.append(as_of)
        data.player_ids.append(player_id)
        data.composite.append(float(composite))
        data.category.append(str(category))
        data.label.append(positive)
        data.outcome_at.append(next_outcome if positive else None)
        for name, value in zip(columns, values, strict=True):
            data.values[name].append(None if value is None else float(value))
    return data


def replay_as_ofs(
    wh: Warehouse, settings: Settings, every_days: int, *, horizon_days: int, max_runs: int
) -> list[datetime]:
    """The past as-ofs a replay scores: every ``every_days`` back over the bets held.

    The newest is the latest as-of whose label window is observed (the newest bet or outcome
    less the horizon); the oldest still has a recent window of bets behind it.

    Args:
        wh: An open warehouse.
        settings: Settings (the recent window).
        every_days: Days between as-ofs.
        horizon_days: Label horizon.
        max_runs: At most this many (the newest ones).

    Returns:
        As-ofs, oldest first (whole seconds).

    Raises:
        InsufficientData: No bets, or a history too short for one observed as-of.
    """
    first_bet = wh.query("select min(placed_at) from {raw}.bets")[0][0]
    end = observed_until(wh)
    if first_bet is None or end is None:
        raise InsufficientData("no bets to replay", "Load bets with `sentinel ingest bets`.")
    newest = (end - timedelta(days=horizon_days)).replace(microsecond=0)
    oldest = first_bet + timedelta(days=settings.scoring.recent_window_days)
    as_ofs: list[datetime] = []
    at = newest
    while at >= oldest and len(as_ofs) < max_runs:
        as_ofs.append(at)
        at -= timedelta(days=every_days)
    if not as_ofs:
        raise InsufficientData(
            f"the bets held ({first_bet:%Y-%m-%d} to {end:%Y-%m-%d}) are too short for a "
            f"{horizon_days}-day horizon after a {settings.scoring.recent_window_days}-day "
            "recent window",
            "Load a longer history, or use a shorter --horizon-days.",
        )
    return sorted(as_ofs)


class CategoryRate(Document):
    """Outcome rate among the rows of one category."""

    risk_category: str
    rows: int
    positives: int
    outcome_rate: float | None


class DecileRate(Document):
    """Outcome rate in one composite decile (10 = the highest scores)."""

    decile: int
    min_score: float
    max_score: float
    rows: int
    positives: int
    outcome_rate: float


#: The lead times the curve reports (days before the outcome).
LEAD_DAYS = (7, 14, 30, 60)


class LeadPoint(Document):
    """How many outcomes were flagged at least ``days`` before they came."""

    days: int
    flagged: int
    share: float | None = Field(description="Of every outcome with a run before it")


class LeadCurve(Document):
    """For each outcome, the first run before it that flagged the player, by one rule."""

    rule: Literal["high_plus", "top_of_queue"] = Field(
        description="high_plus: scored HIGH or above; top_of_queue: among the run's top N "
        "composites (N = the analysts' capacity)"
    )
    outcomes: int = Field(
        description="Players whose harmful outcome came within the horizon of a run evaluated"
    )
    flagged: int = Field(description="Of those, flagged by a run before the outcome")
    median_days: float | None = Field(description="Median days from the first flag to it")
    points: list[LeadPoint]


class LeadTime(Document):
    """How early the scores flagged the outcomes that came.

    Recomputable from ``sentinel export scores --history`` and the outcomes file.
    """

    high_plus: LeadCurve
    top_of_queue: LeadCurve
    base_rate: float | None = Field(description="Positive rows among all rows")
    precision_at_base_rate: float | None = Field(
        description="Mean over runs of the outcome rate among each run's top k composites, "
        "k = the base rate times the run's players (as many flags as the book has outcomes)"
    )


class BacktestReport(Document):
    """``sentinel backtest``: past scores against later harmful outcomes."""

    horizon_days: int
    event_types: list[str]
    observed_until: datetime | None
    runs: int = Field(description="Scoring runs evaluated (label window fully observed)")
    runs_unobserved: int = Field(description="Runs left out: their label window is not over")
    players: int
    rows: int = Field(description="(run, player) pairs evaluated")
    positives: int = Field(description="Rows followed by a harmful outcome within the horizon")
    positive_players: int
    excluded_prior_outcome: int = Field(description="Rows left out: outcome before the as-of")
    capacity: int
    auc: float | None
    precision_at_capacity: float | None = Field(
        description="Mean over runs of the outcome rate among each run's top N composites"
    )
    recall_high_plus: float | None
    precision_high_plus: float | None
    recall_critical: float | None
    precision_critical: float | None
    by_category: list[CategoryRate]
    by_decile: list[DecileRate]
    lead_time_days_median: float | None = Field(
        description="From a player's first HIGH+ score to the outcome it preceded (days)"
    )
    lead_time_players: int
    lead_time: LeadTime
    components: dict[str, float | None] = Field(description="Each component's own AUC")


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    value = roc_auc(list(scores), list(labels))
    return None if value != value else round(value, 4)  # NaN: one class only


def _lead_curve(
    data: LabelledScores, rule: Literal["high_plus", "top_of_queue"], flagged_rows: set[int]
) -> LeadCurve:
    """Each player's next outcome against the first flagged run before it, by ``rule``."""
    # the outcomes a label saw (within some run's horizon: nothing after a label window is
    # read); a player's rows all come before their first outcome (later ones are left out),
    # so any of their flagged rows, within the horizon or earlier, flagged that outcome
    outcome_of: dict[str, datetime] = {}
    for i in range(data.rows):
        when = data.outcome_at[i]
        if when is not None:
            outcome_of[data.player_ids[i]] = when
    first_flag: dict[str, datetime] = {}
    for i in flagged_rows:
        pid = data.player_ids[i]
        if pid in outcome_of and data.as_of[i] < outcome_of[pid]:
            first_flag[pid] = min(first_flag.get(pid, data.as_of[i]), data.as_of[i])
    leads = [(outcome_of[p] - t).total_seconds() / 86400 for p, t in first_flag.items()]
    points = [
        LeadPoint(days=d, flagged=sum(lead >= d for lead in leads),
                  share=_ratio(sum(lead >= d for lead in leads), len(outcome_of)))
        for d in LEAD_DAYS
    ]  # fmt: skip
    return LeadCurve(
        rule=rule, outcomes=len(outcome_of), flagged=len(leads),
        median_days=round(statistics.median(leads), 2) if leads else None, points=points,
    )  # fmt: skip


def _lead_time(data: LabelledScores, by_run: dict[str, list[int]], capacity: int) -> LeadTime:
    high_plus = {i for i in range(data.rows) if data.category[i] in _HIGH_PLUS}
    top: set[int] = set()
    at_base_rate = []
    base_rate = data.positives / data.rows if data.rows else None
    for members in by_run.values():
        ranked = sorted(members, key=lambda i: (-data.composite[i], data.player_ids[i]))
        top.update(ranked[:capacity])
        k = max(1, round((base_rate or 0.0) * len(members)))
        at_base_rate.append(sum(data.label[i] for i in ranked[:k]) / k)
    return LeadTime(
        high_plus=_lead_curve(data, "high_plus", high_plus),
        top_of_queue=_lead_curve(data, "top_of_queue", top),
        base_rate=round(base_rate, 6) if base_rate is not None else None,
        precision_at_base_rate=(
            round(statistics.fmean(at_base_rate), 4) if at_base_rate and base_rate else None
        ),
    )


def backtest(data: LabelledScores, *, capacity: int) -> BacktestReport:
    """Measure labelled scores: ranking, the categories' precision and recall, calibration.

    Args:
        data: Labelled score rows (:func:`labelled_scores`).
        capacity: Analyst capacity N for precision among each run's top N.

    Returns:
        The report.
    """
    rows = range(data.rows)
    labels = data.label
    flagged = [i for i in rows if data.category[i] in _HIGH_PLUS]
    critical = [i for i in rows if data.category[i] == "CRITICAL"]
    positives = data.positives

    by_run: dict[str, list[int]] = {}
    for i in rows:
        by_run.setdefault(data.run_ids[i], []).append(i)
    top_rates = []
    for members in by_run.values():
        top = sorted(members, key=lambda i: (-data.composite[i], data.player_ids[i]))[:capacity]
        top_rates.append(sum(labels[i] for i in top) / len(top))

    by_category = []
    for cat in CATEGORIES:
        members = [i for i in rows if data.category[i] == cat]
        hits = sum(labels[i] for i in members)
        by_category.append(
            CategoryRate(
                risk_category=cat,
                rows=len(members),
                positives=hits,
                outcome_rate=_ratio(hits, len(members)),
            )
        )

    ordered = sorted(rows, key=lambda i: data.composite[i])
    by_decile = []
    for d in range(10):
        members = ordered[d * len(ordered) // 10 : (d + 1) * len(ordered) // 10]
        if not members:
            continue
        hits = sum(labels[i] for i in members)
        by_decile.append(
            DecileRate(
                decile=d + 1,
                min_score=round(data.composite[members[0]], 6),
                max_score=round(data.composite[members[-1]], 6),
                rows=len(members),
                positives=hits,
                outcome_rate=round(hits / len(members), 4),
            )
        )

    lead_time = _lead_time(data, by_run, capacity)
    return BacktestReport(
        horizon_days=data.horizon_days,
        event_types=data.event_types,
        observed_until=data.observed_until,
        runs=len(by_run),
        runs_unobserved=data.runs_unobserved,
        players=len(set(data.player_ids)),
        rows=data.rows,
        positives=positives,
        positive_players=lead_time.high_plus.outcomes,
        excluded_prior_outcome=data.excluded_prior_outcome,
        capacity=capacity,
        auc=_auc(data.composite, labels),
        precision_at_capacity=round(statistics.fmean(top_rates), 4) if top_rates else None,
        recall_high_plus=_ratio(sum(labels[i] for i in flagged), positives),
        precision_high_plus=_ratio(sum(labels[i] for i in flagged), len(flagged)),
        recall_critical=_ratio(sum(labels[i] for i in critical), positives),
        precision_critical=_ratio(sum(labels[i] for i in critical), len(critical)),
        by_category=by_category,
        by_decile=by_decile,
        lead_time_days_median=lead_time.high_plus.median_days,  # the curve's, kept for readers
        lead_time_players=lead_time.high_plus.flagged,
        lead_time=lead_time,
        components={  # an absent component counts as 0 (no evidence)
            name: _auc([v or 0.0 for v in data.values[name]], labels) for name in COMPONENTS
        },
    )
