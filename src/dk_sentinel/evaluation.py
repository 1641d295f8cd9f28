"""Detection quality against ground-truth labels (synthetic data), for tests and benchmarks.

Scoring never reads labels; this module compares the published scores with them afterwards.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from dk_sentinel.synth import EXPECTED_DRIVER, RISK_ARCHETYPES
from dk_sentinel.warehouse import Warehouse


class ArchetypeQuality(BaseModel):
    """How one archetype was scored."""

    archetype: str
    players: int
    mean_composite: float
    share_high_or_above: float
    expected_driver: str | None
    share_expected_driver: float | None


class QualityReport(BaseModel):
    """Separation of risk archetypes from everyone else."""

    players: int
    roc_auc: float
    risk_share_high_or_above: float
    lookalike_share_high_or_above: float
    recreational_share_high_or_above: float
    archetypes: list[ArchetypeQuality]


def roc_auc(scores: list[float], positives: list[bool]) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted as half.

    Args:
        scores: One score per item.
        positives: Whether each item is a positive.

    Returns:
        The area under the ROC curve.
    """
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    if not pos or not neg:
        return float("nan")
    ordered = sorted(neg)
    import bisect

    wins = sum(
        bisect.bisect_left(ordered, s)
        + 0.5 * (bisect.bisect_right(ordered, s) - bisect.bisect_left(ordered, s))
        for s in pos
    )
    return wins / (len(pos) * len(neg))


def evaluate(wh: Warehouse, labels_csv: Path) -> QualityReport:
    """Compare the latest scores with the labels written by ``sentinel generate``.

    Args:
        wh: An open warehouse with a successful scoring run.
        labels_csv: The labels file.

    Returns:
        AUC, category shares and driver accuracy per archetype.
    """
    import csv

    with labels_csv.open(encoding="utf-8") as handle:
        labels = {row["player_id"]: row["archetype"] for row in csv.DictReader(handle)}
    rows = wh.query(
        "select player_id, composite_risk_score, risk_category, primary_driver "
        "from {analytics}.rg_latest_risk_scores"
    )
    scored = [
        (labels[pid], float(score), cat, driver)
        for pid, score, cat, driver in rows
        if pid in labels
    ]
    high = {"HIGH", "CRITICAL"}

    def share(items: list[tuple[str, float, str, str | None]]) -> float:
        return sum(1 for i in items if i[2] in high) / len(items) if items else 0.0

    per = []
    for archetype in sorted({a for a, *_ in scored}):
        items = [i for i in scored if i[0] == archetype]
        expected = EXPECTED_DRIVER.get(archetype)
        per.append(
            ArchetypeQuality(
                archetype=archetype,
                players=len(items),
                mean_composite=round(sum(i[1] for i in items) / len(items), 4),
                share_high_or_above=round(share(items), 4),
                expected_driver=expected,
                share_expected_driver=round(
                    sum(1 for i in items if i[3] == expected) / len(items), 4
                )
                if expected
                else None,
            )
        )
    lookalikes = {"high_stakes_stable", "consistent_winner", "sparse_bettor"}
    return QualityReport(
        players=len(scored),
        roc_auc=round(
            roc_auc([i[1] for i in scored], [i[0] in RISK_ARCHETYPES for i in scored]), 4
        ),
        risk_share_high_or_above=round(share([i for i in scored if i[0] in RISK_ARCHETYPES]), 4),
        lookalike_share_high_or_above=round(share([i for i in scored if i[0] in lookalikes]), 4),
        recreational_share_high_or_above=round(
            share([i for i in scored if i[0] == "recreational"]), 4
        ),
        archetypes=per,
    )
