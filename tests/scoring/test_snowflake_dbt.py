"""The Snowflake path of the dbt project: dbt-snowflake against fakesnow's server mode gives the
same scores as dbt-duckdb, for a full build and an incremental run."""

from datetime import timedelta
from pathlib import Path

import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.ingest import ingest
from dk_sentinel.models import utcnow
from dk_sentinel.scoring import score_batch
from dk_sentinel.synthetic.generator import generate
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.schema import bootstrap

COLUMNS = "player_id, composite_risk_score, risk_category, loss_chase, bet_escalation, market_drift, temporal_risk, money_behaviour, gamalyze, money_recent_deposits_after_loss, money_expected_deposits, money_recent_reversed_withdrawals, money_recent_limit_raises, money_recent_protective_acts, is_new_account, chased_losses, stake_ratio, expected_chase_rate, expected_late_night_share, recent_personal_new_sport_bets, recent_evidence_weight, recent_log_bets_deviation, recent_log_stake_deviation, recent_level_days, stake_trend_rise, stake_trend_standard_error, intensity_rise, chase_rise, session_chase_rise, losing_days_followed, other_days_followed"


def load_and_score(settings: Settings, files: dict[str, str], as_of) -> list[tuple]:
    with connect(settings) as wh:
        bootstrap(wh)
        for kind in ("bets", "assessments", "payments", "account_events"):
            ingest(wh, kind, [files[kind]])  # type: ignore[arg-type]
    run = score_batch(settings, as_of=as_of)
    assert run.status == "success", run.error
    with connect(settings) as wh:
        return wh.query(
            f"select {COLUMNS} from {{analytics}}.rg_latest_risk_scores order by player_id"
        )


@pytest.mark.snowflake
def test_dbt_snowflake_on_fakesnow_matches_duckdb(
    tmp_path: Path, fakesnow_server_settings: Settings
) -> None:
    # every scenario family, a season change and a holiday: the population references, the
    # season weights of new sports, the day factors and shock days (scoring v3) take part
    gen = generate(
        tmp_path / "data", players=120, days=60, seed=21, as_of=AS_OF, families="all",
        season_shift=True, holiday=True,
    )  # fmt: skip
    duck = load_and_score(
        load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"}), gen.files, AS_OF
    )
    snow = load_and_score(fakesnow_server_settings, gen.files, AS_OF)
    # the score history is a permanent table (Fail-safe kept); the scratch tables are transient
    from dk_sentinel.warehouse.jobs import cache_dir

    run_sql = cache_dir(fakesnow_server_settings) / "target" / "run" / "dk_sentinel" / "models"
    history = (run_sql / "marts" / "rg_risk_scores.sql").read_text(encoding="utf-8").lower()
    assert "create or replace table" in history and "transient" not in history
    scratch = (run_sql / "intermediate" / "int_players_windowed.sql").read_text(encoding="utf-8")
    assert "create or replace transient table" in scratch.lower()
    assert len(duck) == len(snow) == 120
    for d, s in zip(duck, snow, strict=True):
        assert d[0] == s[0] and d[2] == s[2], (d, s)
        for a, b in zip(d[3:], s[3:], strict=True):
            assert (a is None and b is None) or abs(float(a) - float(b)) <= 1e-9, (d, s)
        assert abs(float(d[1]) - float(s[1])) <= 1e-9
    # an incremental run appends a second run to the history, without duplicates
    run = score_batch(fakesnow_server_settings, as_of=AS_OF + timedelta(days=1))
    assert run.status == "success" and run.tests_failed == 0
    with connect(fakesnow_server_settings) as wh:
        counts = wh.query("select run_id, count(*) from {analytics}.rg_risk_scores group by 1")
    assert sorted(n for _, n in counts) == [120, 120]
    # the interventions report's set-based queries (a staged table of windows, qualify) agree
    duck_settings = load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
    reports = []
    for settings in (duck_settings, fakesnow_server_settings):
        reports.append(_report_after_interventions(settings, [row[0] for row in duck[:3]]))
    duck_effects, snow_effects = reports
    assert duck_effects == snow_effects
    assert all(e["composite_7d_later"] is not None for e in duck_effects)
    assert any(e["bets_7d_before"] for e in duck_effects)


def _report_after_interventions(settings: Settings, players: list[str]) -> list[dict]:
    from dk_sentinel.analysis.assessment import assess
    from dk_sentinel.analysis.reporting import intervention_report
    from dk_sentinel.interventions.records import create_intervention, parse_request

    created = AS_OF - timedelta(days=8)  # its 7-day score is the AS_OF run's
    with connect(settings) as wh:
        for player in players:
            request = parse_request(player_id=player, intervention_type="watchlist",
                                    reason="Report parity across warehouses", analyst_id="ana01")  # fmt: skip
            create_intervention(
                wh, request, assess(wh, settings, player, now=utcnow()), now=created
            )
        report = intervention_report(wh, ["self_exclusion"], now=AS_OF)
    keep = ("player_id", "bets_7d_before", "bets_7d_after", "staked_7d_before",
            "staked_7d_after", "composite_7d_later", "composite_30d_later", "later_outcome")  # fmt: skip
    return sorted(
        ({k: getattr(e, k) for k in keep} for e in report.interventions),
        key=lambda e: e["player_id"],
    )
