"""Scoring: the aggregation properties, detection quality, and score-batch behaviour."""

import functools
import json
from datetime import timedelta
from pathlib import Path
from unittest import mock

import duckdb
import jinja2
import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from conftest import AS_OF, invoke
from dk_sentinel.config import Settings
from dk_sentinel.errors import BusyError
from dk_sentinel.models import utcnow
from dk_sentinel.scoring import list_runs, score_batch, scoring_lock
from dk_sentinel.scoring.dbt import PROJECT_DIR
from dk_sentinel.synthetic.evaluation import evaluate, roc_auc
from dk_sentinel.vocabulary import COMPONENTS, REGISTRY, dbt_vars
from dk_sentinel.warehouse import connect

MACROS = (PROJECT_DIR / "macros" / "scoring.sql").read_text(encoding="utf-8")
PROJECT_VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
CON = duckdb.connect()


def sql_value(value: float | None) -> str:
    return "cast(null as double)" if value is None else f"cast({value!r} as double)"


def render(call: str, **overrides: object) -> str:
    """Render a scoring macro as dbt would, with the project's vars (plus overrides)."""
    values = {**PROJECT_VARS, **overrides}
    env = jinja2.Environment()
    env.globals["var"] = lambda name, default=None: values.get(name, default)
    return env.from_string(MACROS + call).render()


def composite(lc, be, md, tr, gz, mb=None, **weights: float) -> float:
    """Evaluate the real composite macro (rendered by Jinja) in DuckDB; money_behaviour
    (``mb``) is absent unless given, as in a book without payments or account events."""
    values = dict(zip(COMPONENTS, (lc, be, md, tr, mb, gz), strict=True))
    columns = ", ".join(f"{sql_value(v)} as {name}" for name, v in values.items())
    sql = _composite_sql(tuple(sorted(weights.items())))
    return float(CON.execute(f"select {sql} from (select {columns})").fetchone()[0])


@functools.cache
def _composite_sql(weights: tuple[tuple[str, float], ...]) -> str:
    """The composite macro rendered once per set of weights (a render costs ~60 ms)."""
    given = dict(weights)
    components = [
        {**c, "weight": given.get(c["name"], c["weight"])} for c in PROJECT_VARS["risk_components"]
    ]
    return render("{{ composite() }}", risk_components=components)


def test_component_list_is_the_models_one() -> None:
    """dbt's risk_components default is the registry's, and the settings' weights default to it."""
    assert tuple(c["name"] for c in PROJECT_VARS["risk_components"]) == COMPONENTS
    assert PROJECT_VARS["risk_components"] == dbt_vars()["risk_components"]
    assert Settings().scoring.weights == {c.name: c.default_weight for c in REGISTRY}


def test_every_component_is_a_history_field() -> None:
    """A new component's one line in models.py: the history point carries it (the API's schema
    lists it), in the registry's order."""
    from dk_sentinel.models import HistoryPoint

    fields = [f for f in HistoryPoint.model_fields if f in COMPONENTS]
    assert fields == sorted(COMPONENTS, key=COMPONENTS.index)
    assert set(fields) == set(COMPONENTS)


def test_without_money_data_v4_weights_give_v3_composite() -> None:
    """The v4 weights are v3's x 0.8 plus 0.20 for money_behaviour: with it absent, the
    renormalised composite is v3's (weights 0.30, 0.25, 0.15, 0.10, 0.20)."""
    v3 = {"loss_chase": 0.30, "bet_escalation": 0.25, "market_drift": 0.15,
          "temporal_risk": 0.10, "gamalyze": 0.20, "money_behaviour": 0.0}  # fmt: skip
    for values in [(0.2, 0.5, 0.1, 0.0, 0.7), (0.9, 0.0, 0.3, 0.2, None), (0, 0, 0, 0.4, 0.1)]:
        assert composite(*values) == pytest.approx(composite(*values, **v3), abs=1e-12)
    # present money evidence counts: a money signal alone lifts the score, 0 lowers the mean
    assert composite(0, 0, 0, 0, None, mb=0.9) >= 0.9
    assert composite(0.5, 0, 0, 0, None, mb=0.0) < composite(0.5, 0, 0, 0, None)


def category(score: float) -> str:
    sql = render("{{ risk_category('" + repr(score) + "', '0.80', '0.60', '0.40') }}")
    return str(CON.execute(f"select {sql}").fetchone()[0])


component = st.one_of(st.none(), st.floats(min_value=0, max_value=1))


def test_single_strong_pattern_alone_reaches_high() -> None:
    for position in range(4):  # each behavioural component
        values: list[float | None] = [0.0, 0.0, 0.0, 0.0, None]
        values[position] = 0.9
        assert category(composite(*values)) in ("HIGH", "CRITICAL"), position
    # a player who chases nearly every settled loss is high-risk with no other signal
    assert composite(0.95, 0.0, 0.0, 0.0, None) >= 0.80


def test_all_zero_gives_zero_and_absent_is_not_zero() -> None:
    assert composite(0, 0, 0, 0, 0) == 0.0
    assert composite(0, 0, 0, 0, None) == 0.0
    # absent gamalyze is left out (weights renormalised), never imputed as 0
    assert composite(0, 0.5, 0, 0, None) > composite(0, 0.5, 0, 0, 0.0)
    # ... nor as any other constant
    assert composite(0, 0.5, 0, 0, None) < composite(0, 0.5, 0, 0, 0.5)


def test_several_moderate_signals_beat_one() -> None:
    one = composite(0.5, 0, 0, 0, None)
    several = composite(0.5, 0.5, 0.5, 0, None)
    assert several > one


@hsettings(max_examples=200, deadline=None)
@given(
    values=st.tuples(component, component, component, component, component),
    which=st.integers(0, 4),
    bump=st.floats(0, 1),
)
def test_monotone_and_bounded(values, which, bump) -> None:
    base = composite(*values)
    assert 0.0 <= base <= 1.0 + 1e-12
    raised = list(values)
    if raised[which] is None:
        return
    raised[which] = min(1.0, raised[which] + bump)
    assert composite(*raised) >= base - 1e-12


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.80, "CRITICAL"), (0.8000001, "CRITICAL"), (0.7999995, "CRITICAL"), (0.7999994, "HIGH"),
     (0.60, "HIGH"), (0.5999999, "HIGH"), (0.5999994, "MEDIUM"), (0.40, "MEDIUM"), (0.3999994, "LOW"), (0.0, "LOW"), (1.0, "CRITICAL")],
)  # fmt: skip
def test_category_boundaries_are_inclusive_and_exact(score: float, expected: str) -> None:
    assert category(score) == expected


def test_roc_auc() -> None:
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5


# ---- on generated data -----------------------------------------------------------------------


def test_detection_quality_on_generated_data(
    scored: Settings, scored_source: dict[str, Path]
) -> None:
    with connect(scored) as wh:
        report = evaluate(wh, scored_source["labels"])
    assert report.players == 1500
    assert report.roc_auc >= 0.90
    assert report.risk_share_high_or_above >= 0.80
    assert report.lookalike_share_high_or_above < 0.05
    for a in report.archetypes:
        if a.expected_driver:
            assert a.share_expected_driver is not None and a.share_expected_driver > 0.5, a
        if a.archetype in ("high_stakes_stable", "consistent_winner", "sparse_bettor"):
            assert a.share_high_or_above < 0.05, a


def test_loss_rate_alone_is_not_chasing(scored: Settings) -> None:
    """Winners and losers with flat stakes, who play the day after a loss as they play any
    other day, never score on loss_chase."""
    with connect(scored) as wh:
        rows = wh.query(
            "select max(loss_chase) from {analytics}.rg_latest_risk_scores "
            "where chased_losses = 0 and recent_settled_losses >= 5 "
            "and session_chase_rise <= 0.25"  # the session contrast's margin
        )
    assert rows[0][0] == 0.0


def test_scores_carry_evidence_and_presence(scored: Settings) -> None:
    with connect(scored) as wh:
        rows = wh.query_dicts(
            "select * from {analytics}.rg_latest_risk_scores where has_gamalyze = false limit 1"
        )
        assert rows and rows[0]["gamalyze"] is None
        n_low = wh.query(
            "select count(*) from {analytics}.rg_latest_risk_scores where is_low_confidence"
        )[0][0]
        bad = wh.query(
            "select count(*) from {analytics}.rg_latest_risk_scores "
            "where is_low_confidence and risk_category in ('HIGH', 'CRITICAL')"
        )[0][0]
    assert n_low > 0 and bad / n_low < 0.05


def test_second_run_without_new_bets_is_skipped_fast(runner, scored: Settings) -> None:
    result = invoke(
        runner, "--db", str(scored.warehouse.duckdb.path), "score-batch", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "skipped"
    assert "no new bets" in run["error"]
    assert "no new bets" in result.stderr


def test_concurrent_run_exits_75_naming_the_holder(runner, scored: Settings) -> None:
    with scoring_lock(scored):
        result = invoke(
            runner, "--db", str(scored.warehouse.duckdb.path), "score-batch", "--full-refresh"
        )
    assert result.exit_code == 75
    assert "another score-batch is running (pid" in result.stderr


def test_rescore_later_decays_repairs_and_keeps_history(runner, scored: Settings) -> None:
    db = str(scored.warehouse.duckdb.path)
    with connect(scored) as wh:
        before = dict(
            wh.query(
                "select player_id, composite_risk_score from {analytics}.rg_latest_risk_scores"
            )
        )
        # an interrupted run: 'running' in the log with partial rows
        wh.execute(
            "insert into {ops}.scoring_runs (run_id, status, started_at, as_of) values ('crashed', 'running', ?, ?)",
            [AS_OF, AS_OF],
        )
        wh.execute(
            "insert into {analytics}.rg_risk_scores (player_id, run_id, composite_risk_score) "
            "select player_id, 'crashed', 0.99 from {analytics}.rg_latest_risk_scores limit 5"
        )
    later = AS_OF + timedelta(days=30)  # nobody bets after AS_OF: everyone's recent window empties
    result = invoke(
        runner, "--db", db, "score-batch", "--as-of", later.isoformat(), "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "success" and run["players_scored"] > 0
    with connect(scored) as wh:
        after = dict(
            wh.query(
                "select player_id, composite_risk_score from {analytics}.rg_latest_risk_scores"
            )
        )
        assert (
            wh.query("select count(*) from {analytics}.rg_risk_scores where run_id = 'crashed'")[0][
                0
            ]
            == 0
        )
        assert (
            wh.query("select status from {ops}.scoring_runs where run_id = 'crashed'")[0][0]
            == "failed"
        )
        dupes = wh.query(
            "select count(*) from (select player_id, run_id from {analytics}.rg_risk_scores group by 1, 2 having count(*) > 1) d"
        )
        assert dupes[0][0] == 0
        assert wh.query(
            "select max(last_bet_at) <= ? from {analytics}.rg_latest_risk_scores", [later]
        )[0][0]
    high_before = [p for p, s in before.items() if s >= 0.6]
    assert high_before and all(after.get(p, 0) < before[p] for p in high_before)  # scores decay
    history = invoke(runner, "--db", db, "analyze", high_before[0], "--history", "--format", "json")
    assert history.exit_code == 0, (history.stderr, history.exception)
    points = json.loads(history.stdout)["history"]
    assert len(points) == 2 and json.loads(history.stdout)["change_30d"] < 0
    runs = invoke(runner, "--db", db, "runs", "--format", "json")
    listed = json.loads(runs.stdout)
    statuses = [r["status"] for r in listed]
    assert statuses[0] == "success" and "failed" in statuses
    table = invoke(runner, "--db", db, "runs").stdout  # one line per run, ids whole
    newest = listed[0]
    assert (
        f"{newest['run_id']} │ live │ success" in table and f"{newest['tests_passed']} ok" in table
    )


def test_failing_dbt_tests_exit_4_and_publish_nothing(runner, scored: Settings) -> None:
    from dk_sentinel.scoring import dbt as dbt_module

    real = dbt_module.dbt_vars

    def broken_weights(settings, **run):
        values = real(settings, **run)
        # bypasses config validation: dbt's test must catch it
        values["risk_components"][0]["weight"] = 0.9
        return values

    snapshots = (
        "select (select min(run_id) || max(run_id) from {analytics}.rg_served_scores), "
        "(select min(run_id) || max(run_id) from {analytics}.rg_served_money)"
    )
    with connect(scored) as wh:
        published = wh.query("select distinct run_id from {analytics}.rg_latest_risk_scores")
        served = wh.query(snapshots)
    assert served[0][0] == published[0][0] * 2
    with mock.patch("dk_sentinel.scoring.dbt_vars", broken_weights):
        result = invoke(
            runner, "--db", str(scored.warehouse.duckdb.path), "score-batch", "--full-refresh",
            "--format", "json",
        )  # fmt: skip
    assert result.exit_code == 4, result.stderr
    assert "dbt test(s) failed" in result.stderr
    record = json.loads(result.stdout)  # the run record is printed on every outcome
    assert record["status"] == "tests_failed" and record["tests_failed"] == 1
    # the failed check is named, with how many rows broke it
    assert record["error"] == "weights_sum_to_one (1 rows)", record["error"]
    with connect(scored) as wh:
        assert (
            wh.query("select distinct run_id from {analytics}.rg_latest_risk_scores") == published
        )
        assert list_runs(wh, 1)[0].status == "tests_failed"
        # the read path's snapshots were skipped with the failed checks: the last good ones stay
        assert wh.query(snapshots) == served


def test_score_batch_requires_init(db_settings: Settings) -> None:
    from dk_sentinel.errors import SchemaError

    with pytest.raises(SchemaError):
        score_batch(db_settings)


def test_lock_is_released_after_a_run(scored: Settings) -> None:
    with scoring_lock(scored):
        pass
    with scoring_lock(scored):  # not BusyError
        pass
    with pytest.raises(BusyError), scoring_lock(scored), scoring_lock(scored):
        pass


def test_data_tests_check_this_run_and_unit_tests_run_apart(runner, scored: Settings) -> None:
    from dk_sentinel.scoring.dbt import dbt_vars, run_dbt

    # An impossible row in an *old* run: history was tested when written, so it must not fail
    # (or slow down) every later run; only this run's rows are tested.
    with connect(scored) as wh:
        wh.execute(
            "insert into {analytics}.rg_risk_scores (player_id, run_id, composite_risk_score, "
            "risk_category, loss_chase) values ('PLR_0001_NJ', 'old-run', 7.0, 'BOGUS', 3.0)"
        )
    result = invoke(
        runner, "--db", str(scored.warehouse.duckdb.path), "score-batch", "--full-refresh",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    # one test node checks every invariant of this run's rows (scoring_run_checks)
    assert run["status"] == "success" and (run["tests_passed"], run["tests_failed"]) == (1, 0)
    # The YAML unit tests are left out of production runs and run on their own here.
    unit = run_dbt(scored, ["test", "--select", "test_type:unit"], dbt_vars(scored))
    assert (unit.tests_passed, unit.tests_failed) == (26, 0), unit.failures


def test_older_history_stays_readable_after_a_new_version(runner, scored: Settings) -> None:
    """A warehouse scored by version 1 gains the columns of versions 2 to 4; its old rows keep
    their values."""
    from dk_sentinel.scoring.dbt import SCORING_VERSION

    added = ("recent_chased_losses", "chase_settled_losses", "expected_chase_rate",
             "expected_late_night_share", "recent_evidence_weight", "session_chase_rise",
             "stake_trend_rise", "recent_level_days", "money_behaviour", "has_money_behaviour",
             "money_recent_deposits_after_loss", "is_new_account")  # fmt: skip
    with connect(scored) as wh:
        for column in added:  # what a version 1 table lacked
            wh.execute(f"alter table {{analytics}}.rg_risk_scores drop column {column}")
        wh.execute("update {analytics}.rg_risk_scores set scoring_version = '1.0.0'")
        old = dict(
            wh.query("select player_id, composite_risk_score from {analytics}.rg_risk_scores")
        )
    db = str(scored.warehouse.duckdb.path)
    later = (AS_OF + timedelta(days=1)).isoformat()
    result = invoke(runner, "--db", db, "score-batch", "--as-of", later, "--format", "json")
    assert result.exit_code == 0, result.stderr
    with connect(scored) as wh:
        versions = dict(
            wh.query(
                "select scoring_version, count(expected_chase_rate) + count(session_chase_rise) "
                "+ count(money_recent_deposits_after_loss) from {analytics}.rg_risk_scores "
                "group by 1"
            )
        )
        kept = dict(
            wh.query(
                "select player_id, composite_risk_score from {analytics}.rg_risk_scores "
                "where scoring_version = '1.0.0'"
            )
        )
    assert versions["1.0.0"] == 0 and versions[SCORING_VERSION] > 0  # null on old rows
    assert kept == old
    player = next(iter(old))
    history = invoke(runner, "--db", db, "analyze", player, "--history", "--format", "json")
    assert history.exit_code == 0, history.stderr
    assert len(json.loads(history.stdout)["history"]) == 2


def test_the_scoring_defaults_are_the_dbt_projects_vars() -> None:
    """Twin rule: every default the CLI passes as a dbt var equals the var's default in
    dbt_project.yml (a direct `dbt build` scores like `sentinel score-batch`)."""
    import yaml

    from dk_sentinel.config import load_settings
    from dk_sentinel.scoring.dbt import PROJECT_DIR, dbt_vars

    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    defaults = project["vars"]
    passed = dbt_vars(load_settings())
    shared = set(defaults) & set(passed) - {"as_of", "run_id", "scored_at"}
    assert "intensity_margin" in shared and "shock_day_log_factor" in shared
    assert {
        "categories", "high_plus_categories", "queue_categories", "rg_page_events",
        "risk_components",
    } <= shared  # fmt: skip
    for name in sorted(shared):
        mine, theirs = passed[name], defaults[name]
        if isinstance(theirs, int | float) and not isinstance(theirs, bool):
            assert float(mine) == float(theirs), name
        else:
            assert str(mine) == str(theirs), name


def test_no_model_spells_a_word_of_the_vocabulary() -> None:
    """Issue #40: the categories (and the group of RG-page events) come to the SQL as vars of
    ``dk_sentinel.vocabulary``; a model or macro that spells a category is a second definition.
    (Single contract event types, e.g. one marker's event, are still spelled where used.)"""
    import re

    from dk_sentinel.scoring.dbt import PROJECT_DIR
    from dk_sentinel.vocabulary import CATEGORIES

    words = "|".join(CATEGORIES)
    spelled = {
        str(path.relative_to(PROJECT_DIR)): found
        for path in [
            *(PROJECT_DIR / "models").rglob("*.sql"),
            *(PROJECT_DIR / "macros").rglob("*.sql"),
            *(PROJECT_DIR / "tests").rglob("*.sql"),
        ]
        if (found := re.findall(rf"'({words})'", path.read_text(encoding="utf-8")))
    }
    assert spelled == {}


def test_the_python_and_dbt_twins_of_the_active_profile_agree() -> None:
    """A twin rule that must live in both languages: the applied profile (Python's
    ACTIVE_PROFILE, the dbt macro active_profile) is the same SQL condition. ("Latest run" has
    no twin: Python reads the dbt view rg_latest_run.)"""
    from dk_sentinel.scoring import ACTIVE_PROFILE
    from dk_sentinel.scoring.dbt import PROJECT_DIR

    macros = (PROJECT_DIR / "macros" / "scoring.sql").read_text()
    assert f"where {ACTIVE_PROFILE} " in macros


def test_the_read_path_serves_the_latest_runs_snapshot_and_never_a_stale_one(
    scored: Settings,
) -> None:
    """analyze reads one indexed row of the run's snapshot; the same answer as the history."""
    from dk_sentinel.analysis import assessment
    from dk_sentinel.scoring import SERVED_SCORES, last_successful_run

    with connect(scored) as wh:
        latest = last_successful_run(wh)
        assert latest is not None
        served = wh.query(f"select count(*), count(distinct player_id), min(run_id), "
                          f"max(run_id) from {SERVED_SCORES}")[0]  # fmt: skip
        assert served == (latest.players_scored, latest.players_scored, latest.run_id,
                          latest.run_id)  # fmt: skip
        players = [r[0] for r in wh.query(
            f"select player_id from {SERVED_SCORES} order by player_id limit 5")]  # fmt: skip
        fast = [assessment.assess(wh, scored, p, now=utcnow()) for p in players]
        # a snapshot left behind by a crash between publishing and replacing it: not served
        wh.execute(f"update {SERVED_SCORES} set run_id = 'stale', composite_risk_score = 0")
        slow = [assessment.assess(wh, scored, p, now=utcnow()) for p in players]
    assert [a.model_dump() for a in fast] == [a.model_dump() for a in slow]
    assert all(a.is_current and a.run_id == latest.run_id for a in fast)


def test_a_run_taken_over_stops_in_dbt_and_writes_nothing(scored: Settings) -> None:
    """#38: host A's dbt, still going after host B took the lease over and repaired A's run,
    reads only A's run (named in its environment): finding it no longer running, the models
    stop, and nothing is written under B's id, nor under any other."""
    from datetime import timedelta

    from dk_sentinel.scoring.dbt import dbt_vars, run_dbt, running_as

    counts = "select count(*), count(distinct run_id) from {analytics}.rg_risk_scores"
    now = utcnow().replace(microsecond=0)
    with connect(scored) as wh:
        before = wh.query(counts)
        wh.execute(
            "insert into {ops}.scoring_runs (run_id, status, kind, started_at, as_of) values "
            "('host-a', 'failed', 'live', ?, ?), ('host-b', 'running', 'live', ?, ?)",
            [now, now, now + timedelta(seconds=1), now],
        )
    with running_as("host-a"):
        result = run_dbt(
            scored, ["build", "--select", "rg_risk_scores", "--exclude-resource-type", "seed"],
            dbt_vars(scored),
        )  # fmt: skip
    assert not result.models_ok
    assert any("host-a is no longer running" in f for f in result.failures), result.failures
    with connect(scored) as wh:
        assert wh.query(counts) == before
        assert wh.query(
            "select count(*) from {analytics}.rg_risk_scores where run_id in ('host-a', 'host-b')"
        ) == [(0,)]
    with pytest.raises(ValueError, match="not a run id"), running_as("x'; drop table y; --"):
        pass
