"""A player's published score: one assembly of :class:`RiskAssessment` over a score source.

Two sources answer the same four questions (the player's published score row and the latest
run's id, the freshness block, the money picture's row, the open interventions):

- :class:`WarehouseScores` reads the warehouse: one point lookup in the read path's snapshot
  of the latest run (``rg_served_scores``, a dbt model), else the player's latest published
  row (``rg_published_risk_scores``);
- ``sentinel serve``'s memory (:mod:`dk_sentinel.analysis.served`) answers from the latest
  run's snapshot held as Arrow tables.

"Latest" is decided once, by the dbt view ``rg_latest_run`` (``scoring.last_successful_run``
reads it); :func:`assemble` is the one place a score row becomes an assessment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from dk_sentinel.analysis.evidence import evidence_summaries
from dk_sentinel.config import Settings
from dk_sentinel.errors import NotFoundError, RelationMissing
from dk_sentinel.interventions.records import list_interventions
from dk_sentinel.models import (
    BatchRun,
    ComponentEvidence,
    Freshness,
    Intervention,
    MoneyPicture,
    MoneyWindow,
    RiskAssessment,
    rfc3339,
)
from dk_sentinel.scoring import SERVED_MONEY, SERVED_SCORES, last_successful_run
from dk_sentinel.vocabulary import COMPONENT, COMPONENTS
from dk_sentinel.warehouse import Warehouse

#: Every score row analysts may see (successful live runs; the rule lives in that dbt view).
PUBLISHED_SCORES = "{analytics}.rg_published_risk_scores s"
_NOT_SCORED_HINT = (
    "Has `sentinel score-batch` run since this player's bets were ingested? Is the id right?"
)


class ScoreSource(Protocol):
    """Where a player's published score is read from (the warehouse, or serve's memory)."""

    def score_row(self, player_id: str) -> tuple[dict[str, Any], str | None]:
        """The player's published score row, and the latest run's id (None: none published).

        Raises:
            NotFoundError: The player has never been scored.
        """
        ...

    def freshness(self, row: dict[str, Any]) -> Freshness:
        """The freshness block of the row's score."""
        ...

    def money_row(self, player_id: str, run_id: str | None) -> dict[str, Any] | None:
        """The player's money picture as of the latest run ``run_id`` (None: none)."""
        ...

    def open_interventions(self, player_id: str) -> list[Intervention]:
        """The player's interventions in force now."""
        ...


def assemble(source: ScoreSource, settings: Settings, player_id: str) -> RiskAssessment:
    """The player's current assessment with its money picture and open interventions.

    Args:
        source: Where the score is read from.
        settings: Settings (weights and wording).
        player_id: The player, already validated (once, by the use case that was asked).

    Raises:
        NotFoundError: The player has never been scored.
    """
    row, latest_run_id = source.score_row(player_id)
    assessment = assessment_from_row(
        row, settings, latest_run_id=latest_run_id, freshness=source.freshness(row)
    )
    money = source.money_row(player_id, latest_run_id)
    assessment.money = money_from_row(money) if money else None
    assessment.open_interventions = source.open_interventions(player_id)
    return assessment


class WarehouseScores:
    """The published score read from the warehouse (the one source of truth)."""

    def __init__(self, wh: Warehouse, now: datetime) -> None:
        """Read through ``wh``; interventions in force at ``now`` are open."""
        self.wh = wh
        self.now = now
        self._latest: BatchRun | None = None  # read once, by score_row

    def score_row(self, player_id: str) -> tuple[dict[str, Any], str | None]:
        """The latest run's snapshot row, else the player's latest published row."""
        try:
            latest = self._latest = last_successful_run(self.wh)
            if latest is not None:
                # one lookup in the snapshot, checked against the run (a snapshot of a run not
                # published is never served). Two queries: a scalar subquery for the run id
                # keeps DuckDB from pruning the lookup (8.7 ms against 4.6)
                row = served_row(self.wh, SERVED_SCORES, player_id, latest.run_id)
                if row:
                    return row, latest.run_id
            # not in the latest run (or no snapshot of it): the player's latest published row
            rows = self.wh.query_dicts(
                f"select s.* from {PUBLISHED_SCORES} where s.player_id = ? "
                "order by s.as_of desc, s.run_finished_at desc, s.run_id desc limit 1",
                [player_id],
            )
        except RelationMissing:
            raise NotFoundError(
                f"player {player_id} not found in the risk database (nothing scored yet)",
                _NOT_SCORED_HINT,
            ) from None
        if not rows:
            raise NotFoundError(
                f"player {player_id} not found in the risk database", _NOT_SCORED_HINT
            )
        return rows[0], latest.run_id if latest else None

    def freshness(self, row: dict[str, Any]) -> Freshness:
        """The freshness block of the row's run."""
        finished = self._latest.finished_at if self._latest else None
        return freshness(self.wh, row["run_id"], row["last_bet_at"], last_run_finished_at=finished)

    def money_row(self, player_id: str, run_id: str | None) -> dict[str, Any] | None:
        """One lookup in the money snapshot, served only when it is ``run_id``'s.

        The snapshot is a copy of the dbt model ``int_player_money``, the one definition of
        these markers (``rg_risk_scores`` also keeps them as candidate features for calibrate).
        """
        return None if run_id is None else served_row(self.wh, SERVED_MONEY, player_id, run_id)

    def open_interventions(self, player_id: str) -> list[Intervention]:
        """The player's interventions in force now."""
        return list_interventions(self.wh, player_id=player_id, active=True, now=self.now)


def served_row(wh: Warehouse, relation: str, player_id: str, run_id: str) -> dict[str, Any] | None:
    """The player's row of a snapshot table if it is ``run_id``'s (None: none, or no table)."""
    try:
        rows = wh.query_dicts(
            f"select * from {relation} where player_id = ? and run_id = ?", [player_id, run_id]
        )
    except RelationMissing:  # no live run has built the snapshot yet
        return None
    return rows[0] if rows else None


def freshness(
    wh: Warehouse,
    run_id: str,
    last_bet_at: datetime | None,
    *,
    last_run_finished_at: datetime | None,
) -> Freshness:
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
        last_run_finished_at: When the latest published run finished (``rg_latest_run``, read
            by the caller once; None: none published, or a warehouse scored before the view).

    Returns:
        The freshness block.
    """
    ingest, newest_bets, watermark = wh.query(
        "select (select max(loaded_at) from {ops}.ingest_loads where kind = 'bets'), "
        "(select max(loaded_at) from {ops}.ingest_loads where kind = 'bets' and accepted > 0), "
        "(select max(watermark) from {ops}.scoring_runs where run_id = ?)",
        [run_id],
    )[0]
    return Freshness(
        last_bet_at=last_bet_at,
        last_run_finished_at=last_run_finished_at,
        latest_ingest_at=ingest,
        scores_older_than_ingest=newest_bets is not None
        and (watermark is None or newest_bets > watermark),
    )


def optional_float(value: Any) -> float | None:
    """A number read from the warehouse as a float (None stays None)."""
    return None if value is None else float(value)


def _jsonable(value: Any) -> float | int | str | None:
    if value is None or isinstance(value, int | str):
        return value
    if isinstance(value, datetime):
        return rfc3339(value)
    return float(value)


def assessment_from_row(
    row: dict[str, Any], settings: Settings, *, latest_run_id: str | None, freshness: Freshness
) -> RiskAssessment:
    """The assessment a published score row shows (no money, history or interventions yet).

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
        risk_probability=optional_float(row.get("risk_probability")),
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
