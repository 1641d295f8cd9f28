"""Backtest labels and figures, and the calibration fit, on hand-built data (no dbt)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pytest

from dk_sentinel.config import Settings
from dk_sentinel.errors import InsufficientData
from dk_sentinel.outcomes.backtest import LabelledScores, backtest, labelled_scores, replay_as_ofs
from dk_sentinel.outcomes.calibration import FEATURE_COLUMNS, FEATURES, fit_profile, transform_value
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.schema import bootstrap

T1 = datetime(2026, 9, 1)
T2 = datetime(2026, 9, 15)
T3 = datetime(2026, 11, 20)  # its 30-day window is not over when the data ends


def _warehouse(settings: Settings) -> None:
    """Three runs (one replayed twice), four players, outcomes around the as-ofs."""
    with connect(settings) as wh:
        bootstrap(wh)
        wh.execute(
            "create table {analytics}.rg_risk_scores (run_id varchar, player_id varchar, "
            "composite_risk_score double, risk_category varchar, loss_chase double, "
            "bet_escalation double, market_drift double, temporal_risk double, "
            "money_behaviour double, gamalyze double)"
        )
        runs = [("r1-old", T1, "replay"), ("r1", T1, "replay"), ("r2", T2, "live"),
                ("r3", T3, "live"), ("r-failed", T2, "live")]  # fmt: skip
        for n, (run_id, as_of, kind) in enumerate(runs):
            status = "failed" if run_id == "r-failed" else "success"
            wh.execute(
                "insert into {ops}.scoring_runs (run_id, status, kind, started_at, finished_at, "
                "as_of) values (?, ?, ?, ?, ?, ?)",
                [run_id, status, kind, as_of, as_of + timedelta(minutes=n), as_of],
            )
        scores = {  # player -> (composite, category) in every run
            "PLR_0001_NJ": (0.9, "CRITICAL"), "PLR_0002_NJ": (0.7, "HIGH"),
            "PLR_0003_NJ": (0.2, "LOW"), "PLR_0004_NJ": (0.1, "LOW"),
        }  # fmt: skip
        for run_id, *_ in runs:
            for pid, (score, cat) in scores.items():
                value = 0.0 if run_id == "r1-old" else score
                wh.execute(
                    "insert into {analytics}.rg_risk_scores values (?, ?, ?, ?, ?, null, 0, 0, null, null)",
                    [run_id, pid, value, cat, score],
                )
        outcomes = [
            ("PLR_0001_NJ", T1 + timedelta(days=10), "self_exclusion"),  # after r1, before r2
            ("PLR_0002_NJ", T2 + timedelta(days=10), "cooling_off"),  # 24 days after T1
            ("PLR_0003_NJ", T2 + timedelta(days=40), "other"),  # not harmful by default
        ]
        for pid, at, kind in outcomes:
            wh.execute(
                "insert into {raw}.outcomes values (?, ?, ?, 'f', 'l', ?)", [pid, at, kind, at]
            )
        wh.execute(
            "insert into {raw}.bets (bet_id, player_id, placed_at, sport, is_live, odds_decimal, "
            "stake, status, loaded_at) values ('b1', 'PLR_0004_NJ', ?, 'NFL', false, 2, 10, "
            "'pending', ?)",
            [datetime(2026, 12, 1), datetime(2026, 12, 1)],
        )


def test_labels_follow_the_horizon_and_leave_out_earlier_outcomes(db_settings: Settings) -> None:
    _warehouse(db_settings)
    with connect(db_settings) as wh:
        data = labelled_scores(wh, db_settings)
    assert sorted(set(data.run_ids)) == ["r1", "r2"]  # r1-old is replaced; r3 unobserved
    assert data.runs_unobserved == 1
    labels = dict(zip(zip(data.run_ids, data.player_ids, strict=True), data.label, strict=True))
    assert labels[("r1", "PLR_0001_NJ")] is True  # outcome 10 days after T1
    assert ("r2", "PLR_0001_NJ") not in labels  # already excluded at T2
    assert data.excluded_prior_outcome == 1
    assert labels[("r1", "PLR_0002_NJ")] is True  # 24 days after T1: within 30
    assert labels[("r2", "PLR_0002_NJ")] is True
    assert labels[("r2", "PLR_0003_NJ")] is False  # 'other' is not a harmful type
    assert data.composite[data.run_ids.index("r1")] == 0.9  # the latest run at T1, not r1-old


def test_calibration_leaves_out_players_whose_outcome_is_still_to_come(
    db_settings: Settings,
) -> None:
    _warehouse(db_settings)
    with connect(db_settings) as wh:
        kept = labelled_scores(wh, db_settings, horizon_days=5)
        left = labelled_scores(wh, db_settings, horizon_days=5, later_outcomes="leave_out")
    assert ("PLR_0002_NJ" in kept.player_ids) and "PLR_0002_NJ" not in left.player_ids
    # PLR_0002 at r1 and r2, PLR_0001 at r1: outcome after the 5-day horizon
    assert left.excluded_later_outcome == 3 and kept.rows - left.rows == 3


def test_horizon_and_period_filters(db_settings: Settings) -> None:
    _warehouse(db_settings)
    with connect(db_settings) as wh:
        short = labelled_scores(wh, db_settings, horizon_days=5)
        only_t2 = labelled_scores(wh, db_settings, since=T2.date(), until=T2.date())
    assert short.positives == 0  # no harmful outcome within 5 days of an as-of
    assert "r3" in short.run_ids  # with a 5-day horizon the newest run is observed too
    assert set(only_t2.run_ids) == {"r2"}


def test_backtest_figures_on_known_rows(db_settings: Settings) -> None:
    _warehouse(db_settings)
    with connect(db_settings) as wh:
        report = backtest(labelled_scores(wh, db_settings), capacity=1)
    assert (report.runs, report.rows, report.positives, report.players) == (2, 7, 3, 4)
    # top 1 of r1 is PLR_0001 (positive), of r2 PLR_0002 (positive)
    assert report.precision_at_capacity == 1.0
    assert report.recall_high_plus == 1.0  # every positive was HIGH+ at the time
    assert report.precision_high_plus == 1.0
    assert report.recall_critical == pytest.approx(1 / 3, abs=1e-4)
    assert report.auc == 1.0
    by_cat = {c.risk_category: (c.rows, c.positives) for c in report.by_category}
    assert by_cat == {"CRITICAL": (1, 1), "HIGH": (2, 2), "MEDIUM": (0, 0), "LOW": (4, 0)}
    assert sum(d.rows for d in report.by_decile) == 7
    # PLR_0001: HIGH+ at T1, outcome 10 days later; PLR_0002: HIGH+ at T1, outcome 24 days later
    assert report.lead_time_days_median == 17.0 and report.lead_time_players == 2
    # the lead-time curve (issue #39): both outcomes flagged HIGH+ at T1, 10 and 24 days ahead
    high = report.lead_time.high_plus
    assert (high.outcomes, high.flagged, high.median_days) == (2, 2, 17.0)
    assert [(p.days, p.flagged, p.share) for p in high.points] == [
        (7, 2, 1.0), (14, 1, 0.5), (30, 0, 0.0), (60, 0, 0.0)
    ]  # fmt: skip
    # top 1 of each run: PLR_0001 at r1 (10 days ahead); PLR_0002 only at r2 (10 days ahead)
    top = report.lead_time.top_of_queue
    assert [(p.days, p.flagged) for p in top.points][:2] == [(7, 2), (14, 0)]
    # base rate 3/7: k = 1 of r1's four rows, 1 of r2's three: both positives
    assert report.lead_time.base_rate == pytest.approx(3 / 7, abs=1e-6)
    assert report.lead_time.precision_at_base_rate == 1.0
    assert report.components["loss_chase"] == 1.0 and report.components["gamalyze"] == 0.5


def test_replay_as_ofs_step_back_from_the_last_observed_one(db_settings: Settings) -> None:
    _warehouse(db_settings)
    with connect(db_settings) as wh:
        wh.execute(
            "insert into {raw}.bets (bet_id, player_id, placed_at, sport, is_live, odds_decimal, "
            "stake, status, loaded_at) values ('b0', 'PLR_0004_NJ', ?, 'NFL', false, 2, 10, "
            "'pending', ?)",
            [datetime(2026, 8, 1), datetime(2026, 12, 1)],
        )
        as_ofs = replay_as_ofs(wh, db_settings, 30, horizon_days=30, max_runs=10)
        few = replay_as_ofs(wh, db_settings, 30, horizon_days=30, max_runs=1)
        with pytest.raises(InsufficientData, match="too short"):
            replay_as_ofs(wh, db_settings, 30, horizon_days=120, max_runs=10)
    assert as_ofs[-1] == datetime(2026, 11, 1)  # the newest bet less the horizon
    assert all(b - a == timedelta(days=30) for a, b in itertools.pairwise(as_ofs))
    assert as_ofs[0] >= datetime(2026, 8, 15)  # a recent window of bets behind the oldest
    assert few == [datetime(2026, 11, 1)]


def _synthetic(n: int, seed: int = 0) -> LabelledScores:
    """Rows where chasing and stake level raise the odds and market drift lowers them."""
    rng = np.random.default_rng(seed)
    values: dict[str, list[float | None]] = {c: [] for c in FEATURE_COLUMNS}
    chase = rng.uniform(0, 1, n)
    drift = rng.uniform(0, 1, n)
    staked = rng.lognormal(5, 1, n)
    logit = -3 + 2.5 * chase - 1.5 * drift + 0.8 * (np.log1p(staked) - 5)
    label = rng.random(n) < 1 / (1 + np.exp(-logit))
    for name in FEATURE_COLUMNS:
        column = {"loss_chase": chase, "market_drift": drift, "window_staked": staked}.get(name)
        values[name] = [None] * n if column is None else [float(v) for v in column]
    return LabelledScores(
        horizon_days=30, event_types=["self_exclusion"], observed_until=T3,
        run_ids=["r1"] * n, as_of=[T1] * n, player_ids=[f"PLR_{i:04d}_NJ" for i in range(n)],
        composite=[float(c) for c in chase], category=["LOW"] * n,
        label=[bool(v) for v in label], outcome_at=[None] * n, values=values,
    )  # fmt: skip


@pytest.mark.slow  # cross-validated fits of both models, seconds each
def test_fit_recovers_signs_and_drops_a_component_that_would_lower_risk() -> None:
    report, _fitted = fit_profile(
        _synthetic(4000), folds=4, regularisation=[0.01, 0.1, 1.0], min_positives=30
    )
    coef = {c.feature: c for c in report.coefficients}
    assert coef["loss_chase"].coefficient > 0 and not coef["loss_chase"].dropped
    assert coef["market_drift"].dropped and coef["market_drift"].coefficient == 0.0
    assert coef["window_staked"].coefficient > 0
    assert coef["gamalyze"].dropped  # all missing: constant, says nothing
    assert coef["money_deposits_30d"].dropped  # no payments loaded: not offered
    assert report.cv_auc > report.cv_auc_composite  # stake level adds what the composite lacks
    assert len(report.fold_auc) == 4 and report.forward_auc is None  # one run: no time split
    assert 0 < report.brier < 0.25
    assert sum(b.rows for b in report.reliability) == report.rows
    # the reliability table is calibrated: predicted and observed rates agree in every bin
    assert all(abs(b.mean_predicted - b.observed_rate) < 0.1 for b in report.reliability)


@pytest.mark.slow  # cross-validated fits of both models, seconds each
def test_gradient_boosting_is_compared_and_wins_only_on_a_non_linear_truth() -> None:
    """Linear truth: boosting is no clear win. An interaction (risk only when a player both
    chases and stakes big): boosting wins clearly, and the profile stays the logistic one."""
    linear, _ = fit_profile(_synthetic(4000), folds=4, regularisation=[0.1], min_positives=30)
    assert linear.cv_auc_gradient_boosting is not None
    assert linear.cv_auc_gradient_boosting < linear.cv_auc + 0.02
    assert not linear.gradient_boosting_clear_win

    data = _synthetic(4000, seed=3)
    chase = np.array(data.values["loss_chase"], dtype=float)
    staked = np.array(data.values["window_staked"], dtype=float)
    rng = np.random.default_rng(5)
    # a threshold interaction: a sum of the two markers ranks it only roughly
    both = (chase > 0.5) & (np.log(staked) > 5)
    data.label = [bool(v) for v in rng.random(chase.size) < np.where(both, 0.6, 0.03)]
    report, fitted = fit_profile(data, folds=4, regularisation=[0.1], min_positives=30)
    assert report.gradient_boosting_clear_win
    assert report.cv_auc_gradient_boosting > report.cv_auc + 0.02
    assert len(fitted.coefficients) == len(FEATURE_COLUMNS)  # the applied profile: logistic


def test_fit_refuses_too_few_positives() -> None:
    data = _synthetic(300)
    with pytest.raises(InsufficientData, match="too few harmful outcomes") as err:
        fit_profile(
            data, folds=5, regularisation=[0.01, 0.1, 1.0], min_positives=data.positives + 1
        )
    assert err.value.exit_code == 65 and "replay" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("transform", "raw", "expected"),
    [
        ("identity", [np.nan, 0.5], [0.0, 0.5]),
        ("log1p", [np.nan, -3.0, np.e - 1], [0.0, 0.0, 1.0]),
        ("signed_log1p", [-(np.e - 1), 0.0, np.e - 1], [-1.0, 0.0, 1.0]),
    ],
)
def test_transforms(transform: str, raw: list[float], expected: list[float]) -> None:
    assert transform_value(transform, np.array(raw)) == pytest.approx(expected)  # type: ignore[arg-type]


def test_every_feature_is_a_documented_score_column() -> None:
    from pathlib import Path

    from dk_sentinel.scoring.dbt import PROJECT_DIR

    yml = (Path(PROJECT_DIR) / "models" / "marts" / "_marts__models.yml").read_text()
    for feature in FEATURES:
        assert f"name: {feature.column}" in yml, feature.column


def test_a_money_feature_missing_on_some_rows_is_not_offered() -> None:
    """Rows scored before the money picture existed hold null: "not computed" must not be
    learnt as "no deposits", so the feature is left out rather than read as 0."""
    data = _synthetic(4000)
    label = np.array(data.label, dtype=bool)
    deposits = np.where(label, 5000.0, 10.0)  # it would predict perfectly
    half = [None if i % 2 else float(v) for i, v in enumerate(deposits)]
    data.values["money_deposits_30d"] = half
    report, _ = fit_profile(data, folds=4, regularisation=[0.1], min_positives=30)
    coef = {c.feature: c for c in report.coefficients}
    assert coef["money_deposits_30d"].dropped and coef["money_deposits_30d"].coefficient == 0.0
    data.values["money_deposits_30d"] = [float(v) for v in deposits]  # on every row: offered
    report, _ = fit_profile(data, folds=4, regularisation=[0.1], min_positives=30)
    assert {c.feature: c for c in report.coefficients}["money_deposits_30d"].coefficient > 0
