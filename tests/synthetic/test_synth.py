from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import invoke
from dk_sentinel.synthetic.generator import FAMILIES, family_weights, generate, generate_frames


def test_deterministic_for_a_seed() -> None:
    a = generate_frames(60, 30, seed=5, as_of=datetime(2026, 5, 1))
    b = generate_frames(60, 30, seed=5, as_of=datetime(2026, 5, 1))
    c = generate_frames(60, 30, seed=6, as_of=datetime(2026, 5, 1))
    assert a["bets"].equals(b["bets"]) and a["labels"].equals(b["labels"])
    assert not a["bets"].equals(c["bets"])


def test_realistic_settlement_and_margin(tmp_path: Path) -> None:
    gen = generate(
        tmp_path, players=600, days=60, seed=2, as_of=datetime(2026, 5, 1), families="all"
    )
    con = duckdb.connect()
    bets = f"read_csv('{gen.files['bets']}')"
    assert (
        con.execute(f"select count(*) from {bets} where settled_at < placed_at").fetchone()[0] == 0
    )
    assert (
        con.execute(f"select count(*) from {bets} where placed_at > '2026-05-01'").fetchone()[0]
        == 0
    )
    live, futures = con.execute(
        f"select median(epoch(settled_at) - epoch(placed_at)) filter (where is_live), "
        f"median(epoch(settled_at) - epoch(placed_at)) filter (where market = 'futures') from {bets}"
    ).fetchone()
    assert live < 3600 < 7 * 86400 < futures  # live settles in minutes, futures weeks later
    hold = con.execute(
        f"select 1 - sum(payout) / sum(stake) from {bets} b join read_csv('{gen.files['labels']}') l "
        f"using (player_id) where status <> 'pending' and archetype = 'recreational'"
    ).fetchone()[0]
    assert 0.0 < hold < 0.15  # the book keeps a margin from recreational players
    labels = con.execute(
        f"select archetype, count(*) from read_csv('{gen.files['labels']}') group by 1"
    ).fetchall()
    assert {a for a, _ in labels} == set(FAMILIES)


def test_season_shift_is_a_change_everyone_makes() -> None:
    """With --season-shift, NFL is off-season in the baseline and everyone bets it recently."""
    frames = generate_frames(400, 60, 3, datetime(2026, 5, 1), families="all", season_shift=True)
    bets = frames["bets"]  # noqa: F841 -- read by duckdb below
    recent = "placed_at > timestamp '2026-04-17'"
    nfl_before, nfl_recent, late_before, late_recent = duckdb.sql(
        f"select count(*) filter (sport = 'NFL' and not ({recent})), "
        f"avg(case when sport = 'NFL' then 1 else 0 end) filter ({recent}), "
        f"avg(case when hour(placed_at) between 5 and 10 then 1 else 0 end) filter (not ({recent})), "
        f"avg(case when hour(placed_at) between 5 and 10 then 1 else 0 end) filter ({recent}) "
        "from bets"
    ).fetchall()[0]
    assert nfl_before == 0 and nfl_recent > 0.2
    assert late_recent > late_before + 0.05  # 00:00-05:00 Eastern/Pacific = 05:00-10:00 UTC-ish


def test_chasing_families_react_to_their_own_trigger() -> None:
    """Loss chasers raise their stake fast after losses, win-chasers after wins."""
    frames = generate_frames(1500, 60, 4, datetime(2026, 5, 1), families="all")
    bets, labels = frames["bets"], frames["labels"]  # noqa: F841 -- read by duckdb below
    rows = duckdb.sql(
        """
        with b as (
            select bets.*, archetype,
                lead(stake) over (partition by player_id order by placed_at) as next_stake,
                lead(placed_at) over (partition by player_id order by placed_at) as next_at,
                median(stake) over (partition by player_id) as usual
            from bets join labels using (player_id)
        )
        select archetype, status,
            avg(case when next_stake >= 2 * usual and next_at > settled_at
                      and next_at <= settled_at + interval 30 minute then 1 else 0 end) as rate
        from b where status in ('won', 'lost') group by 1, 2
        """
    ).fetchall()
    rate = {(a, s): r for a, s, r in rows}
    assert rate[("loss_chaser", "lost")] > 3 * rate[("loss_chaser", "won")]
    assert rate[("win_chaser", "won")] > 3 * rate[("win_chaser", "lost")]
    assert rate[("recreational", "lost")] < 0.1


def test_generated_files_pass_the_contract(runner, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    assert (
        invoke(
            runner, "generate", "--out", str(out), "--players", "80", "--days", "30", "--seed", "4"
        ).exit_code
        == 0
    )
    assert invoke(runner, "init").exit_code == 0
    for kind in ("bets", "assessments", "outcomes"):
        result = invoke(runner, "ingest", kind, str(out / f"{kind}.csv"))
        assert result.exit_code == 0, result.stderr


AS_OF_NEW = datetime(2026, 5, 1)


@pytest.fixture(scope="module")
def every_family() -> dict[str, Any]:
    """2,000 players of every family over 60 days (about 40 of each newer family)."""
    return generate_frames(2000, 60, 8, AS_OF_NEW, families="all")


def _sql(frames: dict[str, Any], query: str) -> list[tuple[Any, ...]]:
    """Run ``query`` on the frames' ``bets`` and ``labels`` (b: bets of one family, see callers)."""
    con = duckdb.connect()
    con.register("bets", frames["bets"])
    con.register("labels", frames["labels"])
    return con.execute(query).fetchall()


def _family(name: str) -> str:
    """The bets of one family, with the betting day (starting at 08:00 UTC) as ``d``."""
    return (
        "select bets.*, cast(placed_at - interval 8 hour as date) as d from bets "
        f"join labels using (player_id) where archetype = '{name}'"
    )


def test_rebettor_bets_again_after_wins_and_losses_alike(every_family: dict[str, Any]) -> None:
    """Quick follow-ups after wins and losses at the same rate, at the usual stake."""
    rows = _sql(
        every_family,
        f"""
        with b as ({_family("rebettor")}),
        s as (
            select status, exists (
                select 1 from b b2 where b2.player_id = b.player_id
                and b2.placed_at > b.settled_at and b2.placed_at <= b.settled_at + interval 60 minute
            ) as followed
            from b where status in ('won', 'lost')
        )
        select status, avg(followed::int) from s group by 1
        """,
    )
    rate = dict(rows)
    assert rate["won"] > 0.5 and rate["lost"] > 0.5
    assert abs(rate["won"] - rate["lost"]) < 0.05
    per_day = _sql(
        every_family,
        f"select count(*) / count(distinct (player_id, d)) from ({_family('rebettor')})",
    )[0][0]
    assert 5 <= per_day <= 12


def test_frequency_escalator_bets_more_often_recently(every_family: dict[str, Any]) -> None:
    recent, base = _sql(
        every_family,
        f"""
        with b as ({_family("frequency_escalator")})
        select count(*) filter (where d >= date '2026-04-17')
                / count(distinct (player_id, d)) filter (where d >= date '2026-04-17'),
            count(*) filter (where d < date '2026-03-27')
                / count(distinct (player_id, d)) filter (where d < date '2026-03-27')
        from b
        """,
    )[0]
    assert recent >= 2 * base


def test_slow_ramper_raises_the_stake_over_the_whole_history(every_family: dict[str, Any]) -> None:
    growth, onset_share = _sql(
        every_family,
        f"""
        with b as ({_family("slow_ramper")}),
        p as (
            select player_id,
                median(stake) filter (where d >= date '2026-04-17')
                    / median(stake) filter (where d < date '2026-03-16') as growth,
                median(stake) filter (where d between date '2026-03-16' and date '2026-03-29')
                    / median(stake) filter (where d < date '2026-03-16') as early
            from b group by 1
        )
        select median(growth), median(early) from p
        """,
    )[0]
    assert growth >= 1.4
    assert onset_share > 1.05  # already rising in the first month: no onset


def test_session_chaser_plays_bigger_after_a_losing_day(every_family: dict[str, Any]) -> None:
    after_loss, after_win = _sql(
        every_family,
        f"""
        with b as ({_family("session_chaser")}),
        usual as (
            select player_id, median(stake) filter (where d < date '2026-03-27') as usual
            from b group by 1
        ),
        days as (
            select player_id, d, avg(stake) as stake,
                sum(payout - stake) filter (where status <> 'pending') as net
            from b group by 1, 2
        ),
        seq as (
            select *, lag(net) over (partition by player_id order by d) as prev_net from days
        )
        select avg(stake / usual) filter (where prev_net < 0),
            avg(stake / usual) filter (where prev_net > 0)
        from seq join usual using (player_id) where d >= date '2026-04-17'
        """,
    )[0]
    assert after_loss > 1.5 * after_win


def test_returning_player_takes_a_break_in_the_baseline(every_family: dict[str, Any]) -> None:
    gaps = _sql(
        every_family,
        f"""
        with b as (select distinct player_id, d from ({_family("returning_player")})),
        g as (
            select player_id,
                d - coalesce(lag(d) over (partition by player_id order by d), date '2026-03-02') as gap
            from b
        )
        select player_id, max(gap) from g group by 1
        """,
    )
    assert len(gaps) >= 20
    assert sum(gap >= 20 for _, gap in gaps) >= 0.9 * len(gaps)


def test_weekend_heavy_bets_mostly_at_weekends(every_family: dict[str, Any]) -> None:
    weekend, weekday, recreational = _sql(
        every_family,
        f"""
        with b as ({_family("weekend_heavy")}),
        r as ({_family("recreational")})
        select count(*) filter (where isodow(d) >= 6) / (60 * 2 / 7),
            count(*) filter (where isodow(d) < 6) / (60 * 5 / 7),
            (select avg((isodow(d) >= 6)::int) from r)
        from b
        """,
    )[0]
    assert weekend >= 2.5 * weekday
    assert recreational < 0.35  # everyone else bets all week


def test_longshot_chaser_follows_losses_at_long_odds(every_family: dict[str, Any]) -> None:
    rows = _sql(
        every_family,
        f"""
        with b as (
            select *, median(stake) over (partition by player_id) as usual
            from ({_family("longshot_chaser")})
        ),
        f as (
            select b.bet_id, b.status, min(b2.stake / b.usual) as next_stake
            from b left join b b2 on b2.player_id = b.player_id and b2.odds_decimal >= 6
                and b2.placed_at > b.settled_at and b2.placed_at <= b.settled_at + interval 40 minute
            where b.status in ('won', 'lost') and b.d >= date '2026-04-17'
            group by 1, 2
        )
        select status, avg((next_stake is not null)::int), median(next_stake) from f group by 1
        """,
    )
    rate = {s: (r, stake) for s, r, stake in rows}
    assert rate["lost"][0] > 0.5 and rate["lost"][0] > 5 * rate["won"][0]
    assert 0.6 < rate["lost"][1] < 1.6  # the usual stake, not a bigger one


def test_holiday_is_a_spike_the_whole_book_shares() -> None:
    frames = generate_frames(600, 60, 3, AS_OF_NEW, families="all", holiday=True)
    rows = _sql(
        frames,
        """
        select cast(placed_at - interval 8 hour as date) as d, count(*), median(stake)
        from bets group by 1 order by 1
        """,
    )
    spike = {date(2026, 4, 23) + timedelta(days=i) for i in range(4)}
    holiday = [n for d, n, _ in rows if d in spike]
    others = [
        n for d, n, _ in rows if d not in spike and date(2026, 3, 15) <= d < date(2026, 4, 30)
    ]
    assert len(holiday) == 4
    assert min(holiday) >= 2.5 * (sum(others) / len(others))
    assert (
        max(n for d, n, _ in rows if date(2026, 4, 27) <= d < date(2026, 4, 30)) < min(holiday) / 2
    )


def test_prevalence_sets_the_share_of_risk_players() -> None:
    for families in ("all", "core"):
        labels = generate_frames(
            4000,
            20,
            6,
            AS_OF_NEW,
            families=families,
            prevalence=0.03,  # type: ignore[arg-type]
        )["labels"]
        share = sum(labels.column("is_risk").to_pylist()) / labels.num_rows
        assert 0.015 <= share <= 0.045
    assert abs(sum(family_weights("all", 0.03).values()) - 1) < 1e-9
    with pytest.raises(ValueError, match="prevalence"):
        family_weights("all", 1.5)


def test_generate_cli_holiday_and_prevalence(runner, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    result = invoke(
        runner, "generate", "--out", str(out), "--players", "200", "--days", "30", "--seed", "4",
        "--families", "all", "--holiday", "--prevalence", "0.03",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    risk = duckdb.sql(
        f"select avg((is_risk = 'true')::int) from read_csv('{out / 'labels.csv'}', all_varchar = true)"
    )
    assert risk.fetchall()[0][0] < 0.1
    assert invoke(runner, "generate", "--out", str(out), "--prevalence", "2").exit_code == 2
