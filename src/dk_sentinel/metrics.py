"""Ranking metrics shared by the backtest, calibration and the quality benchmark (pure Python).

Kept apart from :mod:`dk_sentinel.synthetic.evaluation`, which compares scores with synthetic labels
(and imports the generator, so NumPy): the production commands import only this.
"""

from __future__ import annotations

import bisect


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
    wins = sum(
        bisect.bisect_left(ordered, s)
        + 0.5 * (bisect.bisect_right(ordered, s) - bisect.bisect_left(ordered, s))
        for s in pos
    )
    return wins / (len(pos) * len(neg))
