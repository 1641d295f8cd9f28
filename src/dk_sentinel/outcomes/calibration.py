"""Calibration: learn the chance of a harmful outcome from the operator's own outcomes.

The model is one an auditor can read: an L2-regularised logistic regression (scikit-learn,
imported only here) over the five components and level markers of play over the whole scoring
window -- active days, bets per active day, total and mean stake, the spread of log stakes,
net loss -- over the whole history held (account age, lifetime bets and stakes) and, where
the operator loads payments and account events, over the money picture (deposits, cancelled
withdrawals, payment methods, limit changes, RG page visits, time on site), log-transformed
where skewed (the RG literature's intensity,
frequency and variability markers). Every feature is standardised, so a coefficient is the
change in log-odds per standard deviation. The components are sign-constrained (more chasing
never lowers risk): a component whose fitted coefficient is negative is dropped and the model
refitted, until none is.

Validation is cross-validated by player (:func:`player_folds`: no player is in both the
training and the test folds), and, when several runs exist, also forward in time (fit on runs
whose label windows closed before the latest run's as-of, test on that run). The composite is
measured on exactly the same out-of-fold rows.

The result is a **scoring profile stored as data** (``ops.scoring_profiles`` and
``ops.scoring_profile_terms``); ``--apply`` activates it and the dbt models compile it into
``risk_probability`` (macro ``profile_probability``: the same transforms as
:func:`transform_value`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dk_sentinel.errors import InsufficientData, NotFoundError
from dk_sentinel.metrics import roc_auc
from dk_sentinel.models import Document, utcnow
from dk_sentinel.outcomes.backtest import LabelledScores
from dk_sentinel.scoring import ACTIVE_PROFILE
from dk_sentinel.vocabulary import REGISTRY
from dk_sentinel.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

Transform = Literal["identity", "log1p", "signed_log1p"]


@dataclass(frozen=True)
class Feature:
    """One model input: a column of ``rg_risk_scores``, its transform, and its sign rule."""

    column: str
    transform: Transform
    non_negative: bool = False
    every_row: bool = False  # offered only when no row lacks it (see _design)


#: The model's inputs, each a column of rg_risk_scores (a missing value counts as 0).
FEATURES: tuple[Feature, ...] = (
    # the expert composite itself: with little data the model leans on it, and it can only be
    # outweighed where the operator's outcomes say so
    Feature("composite_risk_score", "identity", non_negative=True),
    # each component (a sometimes-missing one, e.g. money_behaviour, null on rows scored before
    # scoring v4 and without money data, is offered only when every row has it)
    *(
        Feature(c.name, "identity", non_negative=True, every_row=c.sometimes_missing)
        for c in REGISTRY
    ),
    Feature("window_active_days", "log1p"),
    Feature("window_bets_per_active_day", "log1p"),
    Feature("window_staked", "log1p"),
    Feature("window_mean_stake", "log1p"),
    Feature("window_log_stake_sd", "identity"),
    Feature("window_net_loss", "signed_log1p"),
    Feature("account_age_days", "log1p"),
    Feature("lifetime_bets", "log1p"),
    Feature("lifetime_staked", "log1p"),
    # scoring v3's markers (null on older rows, read as 0): intensity per active day against
    # the player's own, the whole-window stake trend, and the two chasing contrasts
    Feature("recent_log_bets_deviation", "identity"),
    Feature("stake_trend_rise", "identity"),
    Feature("chase_rise", "identity"),
    Feature("session_chase_rise", "identity"),
    # the money picture (contract v1.1): 0 without payments or account events (a column that
    # is 0 for everyone is dropped), null on rows scored before it existed: a feature missing
    # on any row is not offered, so "not computed" is never learnt as "none" (--since helps)
    Feature("money_deposits_30d", "log1p", every_row=True),
    Feature("money_deposit_count_30d", "log1p", every_row=True),
    Feature("money_withdrawals_30d", "log1p", every_row=True),
    Feature("money_cancelled_withdrawals_30d", "log1p", every_row=True),
    Feature("money_declined_deposits_30d", "log1p", every_row=True),
    Feature("money_payment_methods_90d", "log1p", every_row=True),
    Feature("money_limit_changes_30d", "log1p", every_row=True),
    Feature("money_rg_page_visits_30d", "log1p", every_row=True),
    Feature("money_session_hours_30d", "log1p", every_row=True),
)
#: Gradient boosting must beat the logistic profile's grouped-CV AUC by this much before the
#: report calls it a clear win; the applied profile stays the auditable logistic one either way
#: (the dbt models apply it as a formula an auditor can read).
CLEAR_WIN_AUC = 0.02
FEATURE_COLUMNS = tuple(f.column for f in FEATURES)
_RELIABILITY_BINS = 10


def transform_value(transform: Transform, values: np.ndarray) -> np.ndarray:
    """A feature's transform (the dbt macro ``profile_transform`` is the same rule in SQL).

    Args:
        transform: ``identity``, ``log1p`` (of the non-negative part) or ``signed_log1p``.
        values: Raw values, NaN for missing (counted as 0).

    Returns:
        Transformed values.
    """
    import numpy as np

    x = np.nan_to_num(values.astype(float), nan=0.0)
    if transform == "log1p":
        return np.asarray(np.log1p(np.maximum(x, 0.0)))
    if transform == "signed_log1p":
        return np.asarray(np.sign(x) * np.log1p(np.abs(x)))
    return np.asarray(x)


class Coefficient(Document):
    """One term of the fitted model."""

    feature: str
    transform: Transform
    coefficient: float = Field(description="Change in log-odds per standard deviation")
    odds_ratio_per_sd: float
    center: float
    scale: float
    constraint: Literal["none", ">= 0"]
    dropped: bool = Field(description="Dropped because its sign broke the constraint")


class ReliabilityBin(Document):
    """Predicted against observed outcome rate in one bin of out-of-fold probabilities."""

    bin: int
    rows: int
    mean_predicted: float
    observed_rate: float


class CalibrationReport(Document):
    """``sentinel calibrate``: the fitted profile and how well it validates."""

    profile_version: str
    applied: bool
    horizon_days: int
    event_types: list[str]
    folds: int
    runs: int
    players: int
    rows: int
    positives: int
    excluded_later_outcome: int = Field(
        description="Rows left out: the player's harmful outcome came after the horizon"
    )
    cv_auc: float = Field(description="Out-of-fold AUC of the calibrated model (by player)")
    cv_auc_composite: float = Field(description="AUC of the composite on the same rows")
    fold_auc: list[float]
    fold_auc_composite: list[float]
    forward_auc: float | None = Field(
        default=None, description="Fit on earlier runs, tested on the latest run (time split)"
    )
    forward_auc_composite: float | None = None
    cv_auc_gradient_boosting: float | None = Field(
        default=None,
        description="Out-of-fold AUC of a monotone-constrained gradient-boosting model on the "
        "same features and folds (a comparison; never applied)",
    )
    gradient_boosting_clear_win: bool = Field(
        default=False,
        description=f"Gradient boosting beat the profile by more than {CLEAR_WIN_AUC} AUC",
    )
    brier: float
    base_rate: float
    reliability: list[ReliabilityBin]
    intercept: float
    regularisation: float = Field(description="The L2 strength C chosen (inner grouped CV)")
    coefficients: list[Coefficient]


@dataclass
class _Fit:
    intercept: float
    coefficients: list[float]  # on standardised features; 0 for dropped ones
    dropped: list[bool]
    center: list[float]
    scale: list[float]

    def predict(self, raw: np.ndarray) -> np.ndarray:
        import numpy as np

        z = (raw - np.asarray(self.center)) / np.asarray(self.scale)
        logit = self.intercept + z @ np.asarray(self.coefficients)
        return np.asarray(1.0 / (1.0 + np.exp(-logit)))


def _design(data: LabelledScores) -> np.ndarray:
    import numpy as np

    columns = []
    for feature in FEATURES:
        raw = np.array(
            [np.nan if v is None else v for v in data.values[feature.column]], dtype=float
        )
        if feature.every_row and np.isnan(raw).any():
            raw = np.zeros_like(raw)  # constant: the fit drops it
        columns.append(transform_value(feature.transform, raw))
    return np.column_stack(columns) if columns else np.zeros((data.rows, 0))


def _fit(x: np.ndarray, y: np.ndarray, runs: np.ndarray, regularisation: float) -> _Fit:
    """Standardise, fit, and drop sign-breaking components until none is left.

    Each run (as-of) gets its own effect in the fit: the outcome rate differs from run to run
    (seasons, the book's growth, how outcomes were recorded), and without these effects any
    feature that drifts with time (account age, above all) would learn the calendar instead
    of the player. The profile keeps the row-weighted mean run effect in its intercept, so it
    ranks players within a run by behaviour alone, as it will in a future run.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    center = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = (x - center) / scale
    levels, run_index = np.unique(runs, return_inverse=True)
    effects = np.eye(len(levels))[run_index] if len(levels) > 1 else np.zeros((len(y), 0))
    keep = [bool(np.ptp(x[:, j]) > 0) for j in range(x.shape[1])]  # a constant says nothing
    while True:
        cols = [j for j in range(x.shape[1]) if keep[j]]
        model = LogisticRegression(C=regularisation, max_iter=2000)
        model.fit(np.hstack([z[:, cols], effects]), y)
        coefs = dict(zip(cols, model.coef_[0][: len(cols)], strict=True))
        broken = [j for j in cols if FEATURES[j].non_negative and coefs[j] < 0]
        if not broken:
            break
        keep[min(broken, key=lambda j: coefs[j])] = False
    run_effects = model.coef_[0][len(cols) :]
    mean_effect = float(run_effects[run_index].mean()) if run_effects.size else 0.0
    return _Fit(
        intercept=float(model.intercept_[0]) + mean_effect,
        coefficients=[float(coefs.get(j, 0.0)) for j in range(x.shape[1])],
        dropped=[not k for k in keep],
        center=[float(c) for c in center],
        scale=[float(s) for s in scale],
    )


def player_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds by player, stratified by whether the player ever had a harmful outcome.

    ``StratifiedKFold`` over the players, mapped back to their rows: every row of a player is
    in one fold, and positive players spread evenly. (sklearn's ``StratifiedGroupKFold`` does
    the same per row, in a Python loop over players that costs seconds on a book of thousands.)

    Raises:
        ValueError: fewer positive (or negative) players than folds.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    players, index = np.unique(groups, return_inverse=True)
    positive = np.zeros(len(players), dtype=int)
    np.maximum.at(positive, index, y.astype(int))
    if min(positive.sum(), len(players) - positive.sum()) < n_splits:
        raise ValueError(f"fewer positive or negative players than {n_splits} folds")
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = []
    for _, test_players in splitter.split(players, positive):
        in_test = np.isin(index, test_players)
        folds.append((np.flatnonzero(~in_test), np.flatnonzero(in_test)))
    return folds


def _choose_strength(
    x: np.ndarray, y: np.ndarray, runs: np.ndarray, groups: np.ndarray, candidates: Sequence[float]
) -> float:
    """The L2 strength C with the best inner cross-validated AUC (players grouped).

    Candidates are tried strongest first, and a tie keeps the stronger: with few outcomes
    the model stays close to the composite.
    """
    import numpy as np

    ordered = sorted(candidates)
    if len(ordered) == 1:
        return ordered[0]
    best, best_auc = ordered[0], -1.0
    try:
        splits = player_folds(y, groups, 3, seed=1)
    except ValueError:  # too few positive players for inner folds
        return ordered[len(ordered) // 2]
    for strength in ordered:
        oof = np.zeros(len(y))
        for train, test in splits:
            oof[test] = _fit(x[train], y[train], runs[train], strength).predict(x[test])
        auc = _round_auc(oof, y)
        if auc > best_auc + 1e-4:
            best, best_auc = strength, auc
    return best


def _boosting_oof(
    x: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Out-of-fold probabilities of a small, regularised gradient-boosting model.

    scikit-learn's HistGradientBoostingClassifier, shallow trees, L2 and early stopping off
    (the folds are small); the component scores are constrained to raise the probability,
    as in the profile.
    """
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    monotone = [1 if f.non_negative else 0 for f in FEATURES]
    oof = np.zeros(len(y))
    for train, test in splits:
        model = HistGradientBoostingClassifier(
            max_depth=3,
            learning_rate=0.05,
            max_iter=150,
            l2_regularization=1.0,
            min_samples_leaf=40,
            monotonic_cst=monotone,
            early_stopping=False,
            random_state=0,
        )
        model.fit(x[train], y[train])
        oof[test] = model.predict_proba(x[test])[:, 1]
    return oof


def _round_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    value = roc_auc([float(s) for s in scores], [bool(v) for v in labels])
    return round(value, 4) if value == value else float("nan")


def fit_profile(
    data: LabelledScores, *, folds: int, regularisation: Sequence[float], min_positives: int
) -> tuple[CalibrationReport, _Fit]:
    """Cross-validate and fit the model on labelled scores (nothing is stored).

    The L2 strength is chosen from ``regularisation`` by an inner grouped cross-validation
    inside each outer training fold (nested: the outer test players never influence it).

    Args:
        data: Labelled score rows with :data:`FEATURE_COLUMNS` fetched.
        folds: Cross-validation folds (grouped by player).
        regularisation: Candidate L2 strengths C (inverse; smaller is stronger).
        min_positives: Fewer positive rows: refuse.

    Returns:
        The report (``profile_version`` still empty) and the fit on every row.

    Raises:
        InsufficientData: Too few positives or players for the folds.
    """
    import numpy as np

    positive_players = len({p for p, y in zip(data.player_ids, data.label, strict=True) if y})
    if data.positives < min_positives or positive_players < folds:
        raise InsufficientData(
            f"too few harmful outcomes to calibrate on: {data.positives} positive rows "
            f"({positive_players} players) in {len(set(data.run_ids))} observed run(s); "
            f"at least {min_positives} are needed",
            "Load outcomes (`sentinel ingest outcomes`), score past as-ofs with "
            "`sentinel backtest --replay DAYS`, or use a longer --horizon-days.",
        )
    x = _design(data)
    y = np.array(data.label, dtype=int)
    composite = np.array(data.composite)
    groups = np.array(data.player_ids)
    runs = np.array(data.as_of, dtype="datetime64[s]")
    oof = np.zeros(len(y))
    fold_auc, fold_auc_composite = [], []
    splits = player_folds(y, groups, folds, seed=0)
    for train, test in splits:
        strength = _choose_strength(x[train], y[train], runs[train], groups[train], regularisation)
        fitted = _fit(x[train], y[train], runs[train], strength)
        oof[test] = fitted.predict(x[test])
        fold_auc.append(_round_auc(oof[test], y[test]))
        fold_auc_composite.append(_round_auc(composite[test], y[test]))

    forward_auc = forward_auc_composite = None
    if len(set(data.as_of)) >= 2:
        latest = runs.max()
        horizon = np.timedelta64(data.horizon_days, "D")
        train = runs + horizon <= latest
        test = runs == latest
        if y[train].sum() >= min_positives and 0 < y[test].sum() < test.sum():
            strength = _choose_strength(
                x[train], y[train], runs[train], groups[train], regularisation
            )
            fitted = _fit(x[train], y[train], runs[train], strength)
            forward_auc = _round_auc(fitted.predict(x[test]), y[test])
            forward_auc_composite = _round_auc(composite[test], y[test])

    order = np.argsort(oof, kind="stable")
    reliability = []
    for b, members in enumerate(np.array_split(order, _RELIABILITY_BINS)):
        if members.size:
            reliability.append(
                ReliabilityBin(
                    bin=b + 1,
                    rows=int(members.size),
                    mean_predicted=round(float(oof[members].mean()), 4),
                    observed_rate=round(float(y[members].mean()), 4),
                )
            )
    final_strength = _choose_strength(x, y, runs, groups, regularisation)
    final = _fit(x, y, runs, final_strength)
    coefficients = [
        Coefficient(
            feature=f.column,
            transform=f.transform,
            coefficient=round(final.coefficients[j], 6),
            odds_ratio_per_sd=round(math.exp(final.coefficients[j]), 4),
            center=final.center[j],
            scale=final.scale[j],
            constraint=">= 0" if f.non_negative else "none",
            dropped=final.dropped[j],
        )
        for j, f in enumerate(FEATURES)
    ]
    cv_auc = _round_auc(oof, y)
    boosting_auc = _round_auc(_boosting_oof(x, y, splits), y)
    report = CalibrationReport(
        profile_version="",
        applied=False,
        horizon_days=data.horizon_days,
        event_types=data.event_types,
        folds=folds,
        runs=len(set(data.run_ids)),
        players=len(set(data.player_ids)),
        rows=data.rows,
        positives=data.positives,
        excluded_later_outcome=data.excluded_later_outcome,
        cv_auc=cv_auc,
        cv_auc_composite=_round_auc(composite, y),
        cv_auc_gradient_boosting=boosting_auc,
        gradient_boosting_clear_win=bool(boosting_auc > cv_auc + CLEAR_WIN_AUC),
        fold_auc=fold_auc,
        fold_auc_composite=fold_auc_composite,
        forward_auc=forward_auc,
        forward_auc_composite=forward_auc_composite,
        brier=round(float(np.mean((oof - y) ** 2)), 5),
        base_rate=round(float(y.mean()), 5),
        reliability=reliability,
        intercept=round(final.intercept, 6),
        regularisation=final_strength,
        coefficients=coefficients,
    )
    return report, final


def store_profile(
    wh: Warehouse, report: CalibrationReport, fitted: _Fit, *, now: datetime | None = None
) -> CalibrationReport:
    """Store a fitted profile as data (inactive) and name its version.

    The version is the creation time and a hash of the terms: the same fit gets the same
    suffix, so an auditor can match a score row to the exact coefficients behind it.

    Args:
        wh: An open warehouse.
        report: The report of :func:`fit_profile`.
        fitted: Its fit.
        now: Creation time.

    Returns:
        The report with ``profile_version`` set.
    """
    now = now or utcnow()
    terms = [
        (c.feature, c.transform, fitted.center[j], fitted.scale[j], fitted.coefficients[j])
        for j, c in enumerate(report.coefficients)
        if not c.dropped and fitted.coefficients[j] != 0.0
    ]
    digest = hashlib.sha256(json.dumps([fitted.intercept, terms]).encode()).hexdigest()[:8]
    version = f"cal-{now:%Y%m%dT%H%M%S}-{digest}"
    report = report.model_copy(update={"profile_version": version})
    with wh.transaction():
        wh.execute(
            "insert into {ops}.scoring_profiles (profile_version, created_at, horizon_days, "
            "event_types, intercept, players, positives, cv_auc, cv_auc_composite, brier, "
            "report, activated_at, deactivated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "null, null)",
            [
                version, now, report.horizon_days, ",".join(report.event_types),
                fitted.intercept, report.players, report.positives, report.cv_auc,
                report.cv_auc_composite, report.brier, report.model_dump_json(),
            ],
        )  # fmt: skip
        for feature, transform, center, scale, coefficient in terms:
            wh.execute(
                "insert into {ops}.scoring_profile_terms values (?, ?, ?, ?, ?, ?)",
                [version, feature, transform, center, scale, coefficient],
            )
    log.info("stored scoring profile %s (%d terms)", version, len(terms))
    return report


def activate_profile(wh: Warehouse, version: str, *, now: datetime | None = None) -> None:
    """Make ``version`` the applied profile (the previous one is deactivated).

    The next ``score-batch`` adds ``risk_probability`` from it.

    Raises:
        NotFoundError: No such profile.
    """
    now = now or utcnow()
    if not wh.query("select 1 from {ops}.scoring_profiles where profile_version = ?", [version]):
        raise NotFoundError(f"scoring profile {version} not found")
    with wh.transaction():
        wh.execute(
            f"update {{ops}}.scoring_profiles set deactivated_at = ? where {ACTIVE_PROFILE}", [now]
        )
        wh.execute(
            "update {ops}.scoring_profiles set activated_at = ?, deactivated_at = null "
            "where profile_version = ?",
            [now, version],
        )
    log.info("applied scoring profile %s: the next score-batch adds risk_probability", version)


def deactivate_profiles(wh: Warehouse, *, now: datetime | None = None) -> int:
    """Stop applying any profile (scores go back to the composite alone from the next run).

    Returns:
        How many profiles were active (0 or 1).
    """
    active = wh.query(f"select count(*) from {{ops}}.scoring_profiles where {ACTIVE_PROFILE}")
    wh.execute(
        f"update {{ops}}.scoring_profiles set deactivated_at = ? where {ACTIVE_PROFILE}",
        [now or utcnow()],
    )
    return int(active[0][0])
