"""The outcomes loop end to end with dbt: replays, backtest, calibrate, apply, no leakage."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from conftest import AS_OF, REPLAY_AS_OF, invoke
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.ingest import ingest
from dk_sentinel.outcomes.backtest import backtest, labelled_scores
from dk_sentinel.outcomes.calibration import FEATURE_COLUMNS, fit_profile, transform_value
from dk_sentinel.scoring import score_batch
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.schema import bootstrap

BACKTEST_KEYS = {
    "auc", "precision_at_capacity", "recall_high_plus", "precision_high_plus", "by_category",
    "by_decile", "lead_time_days_median", "components", "runs", "players", "positives",
}  # fmt: skip
CALIBRATE_KEYS = {
    "cv_auc", "cv_auc_composite", "brier", "reliability", "coefficients", "players",
    "positives", "profile_version",
}  # fmt: skip


def _db(settings: Settings) -> str:
    return str(settings.warehouse.duckdb.path)


def _env(settings: Settings) -> dict[str, str]:
    return {"SENTINEL_OUTCOMES__HORIZON_DAYS": "14", "SENTINEL_OUTCOMES__MIN_POSITIVES": "10"}


def test_backtest_reads_the_replay_and_replays_are_never_latest(runner, replayed: Settings) -> None:
    result = invoke(runner, "--db", _db(replayed), "backtest", "--format", "json",
                    env=_env(replayed))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= BACKTEST_KEYS
    # the live run at AS_OF is not evaluated: its 14-day label window is not over
    assert (report["runs"], report["runs_unobserved"]) == (1, 1)
    assert report["positives"] >= 10 and 0.5 < report["auc"] <= 1.0
    assert set(report["components"]) == {
        "loss_chase", "bet_escalation", "market_drift", "temporal_risk", "money_behaviour",
        "gamalyze",
    }  # fmt: skip
    runs = json.loads(invoke(runner, "--db", _db(replayed), "runs", "--format", "json").stdout)
    assert sorted(r["kind"] for r in runs) == ["live", "replay"]
    with connect(replayed) as wh:
        latest = wh.query("select distinct as_of from {analytics}.rg_latest_risk_scores")
        published = wh.query("select distinct as_of from {analytics}.rg_published_risk_scores")
    assert latest == [(AS_OF,)] and published == [(AS_OF,)]  # the replay stays out of sight
    # the lead-time curve (issue #39): every outcome after a run, flagged how far ahead
    lead = report["lead_time"]
    assert lead["high_plus"]["outcomes"] >= lead["high_plus"]["flagged"] > 0
    assert [p["days"] for p in lead["high_plus"]["points"]] == [7, 14, 30, 60]
    shares = [p["share"] for p in lead["high_plus"]["points"]]
    assert shares == sorted(shares, reverse=True)  # flagged 14 days ahead is flagged 7 ahead
    assert 0 < lead["precision_at_base_rate"] <= 1
    table = invoke(runner, "--db", _db(replayed), "backtest", env=_env(replayed))
    assert "ROC AUC" in table.stdout and "Observational" in table.stdout
    assert "7 days ahead" in table.stdout and "base rate" in table.stdout


def _figures(settings: Settings) -> tuple[dict[str, object], dict[str, object]]:
    with connect(settings) as wh:
        data = labelled_scores(wh, settings, columns=FEATURE_COLUMNS)
        cal_data = labelled_scores(
            wh, settings, columns=FEATURE_COLUMNS, later_outcomes="leave_out"
        )
    bt = backtest(data, capacity=50).model_dump(mode="json")
    cal, _ = fit_profile(cal_data, folds=3, regularisation=[0.01, 0.1, 1.0], min_positives=10)
    return bt, cal.model_dump(mode="json", exclude={"profile_version"})


def test_a_bet_or_outcome_one_second_past_the_cutoff_changes_no_figure(
    replayed: Settings, tmp_path: Path
) -> None:
    """Scores as of T read nothing after T; labels read nothing after T + horizon."""
    before_bt, before_cal = _figures(replayed)
    with connect(replayed) as wh:
        players = [r[0] for r in wh.query(
            "select player_id from {analytics}.rg_risk_scores s join {ops}.scoring_runs r "
            "using (run_id) where r.kind = 'replay' and player_id not in "
            "(select player_id from {raw}.outcomes) order by player_id limit 40"
        )]  # fmt: skip
        before_rows = wh.query_dicts(
            "select * from {analytics}.rg_risk_scores s where run_id in (select run_id from "
            "{ops}.scoring_runs where kind = 'replay') order by player_id"
        )
    t = REPLAY_AS_OF + timedelta(seconds=1)
    bets = tmp_path / "late_bets.csv"
    bets.write_text(
        "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,status\n"
        + "".join(
            f"LATE{n:04d},{p},{t:%Y-%m-%d %H:%M:%S},{t + timedelta(seconds=1):%Y-%m-%d %H:%M:%S},"
            "NFL,spread,true,9.5,5000.00,0.0,lost\n"
            for n, p in enumerate(players)
        )
    )
    served = "select distinct run_id from {analytics}.rg_served_scores"
    with connect(replayed) as wh:
        assert ingest(wh, "bets", [bets]).accepted == len(players)
        live_snapshot = wh.query(served)
    assert len(live_snapshot) == 1
    assert score_batch(replayed, as_of=REPLAY_AS_OF, kind="replay").status == "success"
    with connect(replayed) as wh:  # a replay never replaces the read path's snapshot
        assert wh.query(served) == live_snapshot
    assert _figures(replayed) == (before_bt, before_cal)  # a bet after T: nothing moves
    with connect(replayed) as wh:  # the newer replay's rows are the same scores and features
        rows = wh.query_dicts(
            "select * from {analytics}.rg_risk_scores s where run_id = (select max(run_id) from "
            "{ops}.scoring_runs where kind = 'replay') order by player_id"
        )
    volatile = {"run_id", "scored_at"}
    strip = [{k: v for k, v in r.items() if k not in volatile} for r in before_rows]
    assert [{k: v for k, v in r.items() if k not in volatile} for r in rows] == strip

    after_horizon = REPLAY_AS_OF + timedelta(days=14, seconds=1)
    outcomes = tmp_path / "late_outcomes.csv"
    outcomes.write_text(
        "player_id,event_at,event_type\n"
        + "".join(f"{p},{after_horizon:%Y-%m-%d %H:%M:%S},self_exclusion\n" for p in players)
    )
    with connect(replayed) as wh:
        assert ingest(wh, "outcomes", [outcomes]).accepted == len(players)
    after_bt, after_cal = _figures(replayed)
    assert after_bt == before_bt  # an outcome after the label window changes no backtest figure
    # calibration labels nobody positive with it either; by design it stops counting those
    # players as controls (a case still to come: see labelled_scores' later_outcomes)
    assert after_cal["positives"] == before_cal["positives"]
    assert after_cal["excluded_later_outcome"] == before_cal["excluded_later_outcome"] + len(
        players
    )


def test_calibrate_apply_adds_the_probability_everywhere(runner, replayed: Settings) -> None:
    env = _env(replayed)
    result = invoke(runner, "--db", _db(replayed), "calibrate", "--folds", "3", "--apply",
                    "--format", "json", env=env)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= CALIBRATE_KEYS and report["applied"] is True
    assert report["cv_auc"] >= report["cv_auc_composite"] - 0.02
    assert report["profile_version"].startswith("cal-")
    # the money picture is offered where payments and account events are loaded: kept by the
    # fit (not constant), and the dbt formula below applies its terms like any other
    # (the nine money_*_30d/90d columns and scoring v4's money_behaviour component)
    money = [c for c in report["coefficients"] if c["feature"].startswith("money_")]
    assert len(money) == 10 and any(not c["dropped"] for c in money)
    run = invoke(runner, "--db", _db(replayed), "score-batch", "--as-of",
                 AS_OF.isoformat(sep=" "), "--format", "json", env=env)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["profile_version"] == report["profile_version"]

    with connect(replayed) as wh:
        terms = wh.query_dicts(
            "select * from {ops}.scoring_profile_terms where profile_version = ?",
            [report["profile_version"]],
        )
        intercept = wh.query(
            "select intercept from {ops}.scoring_profiles where profile_version = ?",
            [report["profile_version"]],
        )[0][0]
        rows = wh.query_dicts("select * from {analytics}.rg_latest_risk_scores")
    logit = np.full(len(rows), intercept)
    for t in terms:
        raw = np.array([np.nan if r[t["feature"]] is None else r[t["feature"]] for r in rows])
        logit += (
            t["coefficient"] * (transform_value(t["transform"], raw) - t["center"]) / t["scale"]
        )
    expected = 1 / (1 + np.exp(-logit))
    got = np.array([r["risk_probability"] for r in rows])
    # the table's features are rounded (4-6 decimals); the model saw the unrounded ones
    assert np.max(np.abs(got - expected)) < 1e-3
    assert {r["profile_version"] for r in rows} == {report["profile_version"]}
    assert {r["probability_horizon_days"] for r in rows} == {14}

    top = max(rows, key=lambda r: r["composite_risk_score"])
    analyzed = invoke(runner, "--db", _db(replayed), "analyze", top["player_id"], "--explain",
                      "--format", "json", env=env)  # fmt: skip
    body = json.loads(analyzed.stdout)
    assert body["risk_probability"] == pytest.approx(top["risk_probability"])
    assert f"{top['risk_probability'] * 100:.0f} %" in body["ai_explanation"]
    assert "model-estimated chance of an RG event within 14 days" in body["ai_explanation"]
    queue = json.loads(invoke(runner, "--db", _db(replayed), "queue", "--format", "json").stdout)
    assert all(i["risk_probability"] is not None for i in queue["items"])

    # categories may follow the probability instead of the composite
    by_probability = load_settings(
        overrides={
            "warehouse.duckdb.path": replayed.warehouse.duckdb.path,
            "outcomes.category_basis": "probability",
        }
    )
    assert score_batch(by_probability, as_of=AS_OF).status == "success"
    with connect(replayed) as wh:
        cats = wh.query(
            "select risk_probability, risk_category from {analytics}.rg_latest_risk_scores"
        )
    cut = {"CRITICAL": 0.5, "HIGH": 0.25, "MEDIUM": 0.10, "LOW": -math.inf}
    for p, cat in cats:
        assert p >= cut[cat] and all(p < c for k, c in cut.items() if c > cut[cat])


def test_calibrate_without_outcomes_is_a_clear_error(runner, db_settings: Settings) -> None:
    with connect(db_settings) as wh:
        bootstrap(wh)
    result = invoke(runner, "--db", _db(db_settings), "calibrate")
    assert result.exit_code == 65
    assert "too few harmful outcomes to calibrate on: 0 held" in result.stderr
    assert "sentinel ingest outcomes" in result.stderr


def test_the_lead_time_curve_is_recomputed_from_the_exported_history(
    runner, replayed: Settings, tmp_path: Path
) -> None:
    """Issue #39: the curve `backtest` prints equals one computed here from `export scores
    --history` and the outcomes alone (the backtest's rules: runs whose label window is
    observed, players without an outcome at or before the as-of, the outcomes within some
    run's horizon)."""
    import csv
    from datetime import datetime

    env = _env(replayed)
    out = tmp_path / "history.csv"
    exported = invoke(runner, "--db", _db(replayed), "export", "scores", "--history",
                      "--out", str(out), env=env)  # fmt: skip
    assert exported.exit_code == 0, exported.stderr
    result = invoke(runner, "--db", _db(replayed), "backtest", "--format", "json",
                    "--capacity", "20", env=env)  # fmt: skip
    curve = json.loads(result.stdout)["lead_time"]

    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    harmful = [str(t) for t in replayed.outcomes.harmful_event_types]
    with connect(replayed) as wh:
        outcomes: dict[str, list[datetime]] = {}
        marks = ", ".join("?" for _ in harmful)
        for pid, at in wh.query(f"select player_id, event_at from {{raw}}.outcomes "
                                f"where event_type in ({marks}) order by event_at", harmful):  # fmt: skip
            outcomes.setdefault(pid, []).append(at)
        seen = wh.query("select greatest((select max(placed_at) from {raw}.bets), "
                        "(select max(event_at) from {raw}.outcomes))")[0][0]  # fmt: skip
    horizon = timedelta(days=14)
    runs: dict[str, list[dict[str, str]]] = {}
    as_of_of: dict[str, datetime] = {}
    for row in rows:
        as_of = datetime.fromisoformat(row["as_of"].replace("Z", ""))
        if as_of + horizon <= seen:  # the label window is observed
            as_of_of[row["run_id"]] = as_of
            runs.setdefault(row["run_id"], []).append(row)
    assert runs, "no observed run in the history"

    def expected(flagged: set[tuple[str, str]]) -> list[tuple[int, int]]:
        outcome_of: dict[str, datetime] = {}
        first: dict[str, datetime] = {}
        for run_id, members in runs.items():
            for row in members:
                pid, as_of = row["player_id"], as_of_of[run_id]
                times = [t for t in outcomes.get(pid, []) if t > as_of]
                if len(times) < len(outcomes.get(pid, [])) or not times:
                    continue  # an outcome at or before the as-of, or none to come
                if times[0] <= as_of + horizon:  # the outcomes a label saw
                    outcome_of[pid] = times[0]
                if (run_id, pid) in flagged:
                    first[pid] = min(first.get(pid, as_of), as_of)
        first = {p: t for p, t in first.items() if p in outcome_of and t < outcome_of[p]}
        leads = [(outcome_of[p] - t).total_seconds() / 86400 for p, t in first.items()]
        return [(d, sum(lead >= d for lead in leads)) for d in (7, 14, 30, 60)]

    high_plus = {(r["run_id"], r["player_id"]) for m in runs.values() for r in m
                 if r["risk_category"] in ("HIGH", "CRITICAL")}  # fmt: skip
    top: set[tuple[str, str]] = set()
    for run_id, members in runs.items():
        at = as_of_of[run_id]
        eligible = [
            r for r in members if not any(t <= at for t in outcomes.get(r["player_id"], []))
        ]
        ranked = sorted(eligible, key=lambda r: (-float(r["composite_risk_score"]), r["player_id"]))
        top |= {(run_id, r["player_id"]) for r in ranked[:20]}
    assert [(p["days"], p["flagged"]) for p in curve["high_plus"]["points"]] == expected(high_plus)
    assert [(p["days"], p["flagged"]) for p in curve["top_of_queue"]["points"]] == expected(top)
    assert curve["high_plus"]["flagged"] > 0
