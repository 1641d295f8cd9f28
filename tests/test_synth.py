from datetime import datetime
from pathlib import Path

import duckdb

from conftest import invoke
from dk_sentinel.synth import FAMILIES, generate, generate_frames


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
