"""Detection quality against ground-truth labels (synthetic data), for tests and benchmarks.

Scoring never reads labels; this module compares the published scores with them afterwards.
"""

from __future__ import annotations

import csv
from pathlib import Path

from dk_sentinel.metrics import roc_auc
from dk_sentinel.models import Document
from dk_sentinel.synthetic.generator import EXPECTED_DRIVER, LOOKALIKES, RISK_ARCHETYPES
from dk_sentinel.vocabulary import categories_at_or_above
from dk_sentinel.warehouse import Warehouse

_HIGH_PLUS = frozenset(categories_at_or_above("HIGH"))
#: A composite an analyst reads as 1.00 (two decimals): the ceiling the queue cannot order.
CEILING = 0.995


class ArchetypeQuality(Document):
    """How one archetype (scenario family) was scored."""

    archetype: str
    players: int
    is_risk: bool
    mean_composite: float
    share_high_or_above: float
    expected_driver: str | None
    share_expected_driver: float | None


class QualityReport(Document):
    """Separation of risk archetypes from everyone else."""

    players: int
    roc_auc: float
    recall_high_plus: float
    precision_high_plus: float
    risk_share_high_or_above: float
    lookalike_share_high_or_above: float
    recreational_share_high_or_above: float
    high_plus: int
    share_high_plus_at_ceiling: float
    top50_distinct_composites: int
    precision_top50: float
    precision_top100: float
    archetypes: list[ArchetypeQuality]


def _share(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def evaluate(wh: Warehouse, labels_csv: Path) -> QualityReport:
    """Compare the latest scores with the labels written by ``sentinel generate``.

    Args:
        wh: An open warehouse with a successful scoring run.
        labels_csv: The labels file.

    Returns:
        AUC, recall and precision at HIGH+, precision among the 50 and 100 highest composites
        (ties broken by player id), category shares and driver accuracy per family.
    """
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
    flagged = [i for i in scored if i[2] in _HIGH_PLUS]
    risk = [i for i in scored if i[0] in RISK_ARCHETYPES]

    def share_high(items: list[tuple[str, float, str, str | None]]) -> float:
        return _share(sum(1 for i in items if i[2] in _HIGH_PLUS), len(items))

    per = []
    for archetype in sorted({a for a, *_ in scored}):
        items = [i for i in scored if i[0] == archetype]
        expected = EXPECTED_DRIVER.get(archetype)
        per.append(
            ArchetypeQuality(
                archetype=archetype,
                players=len(items),
                is_risk=archetype in RISK_ARCHETYPES,
                mean_composite=round(sum(i[1] for i in items) / len(items), 4),
                share_high_or_above=share_high(items),
                expected_driver=expected,
                share_expected_driver=_share(sum(1 for i in items if i[3] == expected), len(items))
                if expected
                else None,
            )
        )
    top = sorted((i[1] for i in scored), reverse=True)[:50]
    ranked = sorted(
        ((float(score), pid) for pid, score, _cat, _driver in rows if pid in labels),
        key=lambda item: (-item[0], item[1]),
    )

    def precision_top(k: int) -> float:
        head = ranked[:k]
        return _share(sum(1 for _, pid in head if labels[pid] in RISK_ARCHETYPES), len(head))

    return QualityReport(
        players=len(scored),
        roc_auc=round(
            roc_auc([i[1] for i in scored], [i[0] in RISK_ARCHETYPES for i in scored]), 4
        ),
        recall_high_plus=share_high(risk),
        precision_high_plus=_share(
            sum(1 for i in flagged if i[0] in RISK_ARCHETYPES), len(flagged)
        ),
        risk_share_high_or_above=share_high(risk),
        lookalike_share_high_or_above=share_high([i for i in scored if i[0] in LOOKALIKES]),
        recreational_share_high_or_above=share_high([i for i in scored if i[0] == "recreational"]),
        high_plus=len(flagged),
        share_high_plus_at_ceiling=_share(sum(1 for i in flagged if i[1] >= CEILING), len(flagged)),
        top50_distinct_composites=len(set(top)),
        precision_top50=precision_top(50),
        precision_top100=precision_top(100),
        archetypes=per,
    )
