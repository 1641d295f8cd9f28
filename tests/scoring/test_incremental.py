"""An hourly run keeps derived tables between runs (int_bets_localised, int_player_days) and
adds only what the new loads changed: its scores must equal a full refresh's, on DuckDB and on
Snowflake (dbt-snowflake against fakesnow's server)."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.ingest import ingest
from dk_sentinel.scoring import score_batch
from dk_sentinel.synthetic.generator import generate
from dk_sentinel.warehouse import Warehouse, connect
from dk_sentinel.warehouse.schema import bootstrap

pytestmark = pytest.mark.slow

#: Columns that name the run, not the score.
RUN_COLUMNS = {"run_id", "as_of", "scored_at"}


def split_by_time(bets_csv: str, out: Path, cuts: list[datetime]) -> list[Path]:
    """The bets as an operator would have sent them in loads up to each cut.

    Load k holds the bets placed in (cut k-1, cut k], a bet settled after cut k still pending,
    and the settled version of every bet left pending by an earlier load that has settled
    since (the one update ingest allows).
    """
    con = duckdb.connect()
    con.execute(f"create table bets as select * from read_csv('{bets_csv}', all_varchar=true)")
    files = []
    for k, cut in enumerate(cuts):
        before = cuts[k - 1] if k else datetime(1970, 1, 1)
        path = out / f"load_{k}.csv"
        con.execute(
            f"""copy (
                select bet_id, player_id, placed_at,
                    case when cast(settled_at as timestamp) <= $cut then settled_at end as settled_at,
                    sport, market, is_live, odds_decimal, stake,
                    case when cast(settled_at as timestamp) <= $cut then payout end as payout,
                    case when cast(settled_at as timestamp) <= $cut then status else 'pending' end
                        as status
                from bets
                where cast(placed_at as timestamp) > $before and cast(placed_at as timestamp) <= $cut
                   or (cast(placed_at as timestamp) <= $before
                       and cast(settled_at as timestamp) > $before
                       and cast(settled_at as timestamp) <= $cut)
            ) to '{path}' (header)""",
            {"cut": cut, "before": before},
        )
        files.append(path)
    return files


#: Planted by :func:`with_planted_cases`.
LEAVER, LATE_BET, LATE_PLAYER = "PLR_7001_NJ", "LATE-0001", "PLR_7002_NJ"


def with_planted_cases(bets_csv: str, out: Path, cuts: list[datetime]) -> Path:
    """The generated bets plus the cases an incremental run can get wrong.

    - a player who leaves the window: bets only just inside the first run's 90-day window;
    - a bet that settles late: placed 20 days before the first run, settled (lost) between
      the runs, followed ten minutes later by a bigger bet (a chase the second run sees);
    - a population shift: between the runs 80 % of players place two live bets on a sport
      nobody bet on before, so the population references move for every player.
    """
    first, second = cuts
    con = duckdb.connect()
    con.execute(f"create table bets as select * from read_csv('{bets_csv}', all_varchar=true)")
    iso = "%Y-%m-%dT%H:%M:%S"
    rows = [
        (f"LEAVE-{i}", LEAVER, first - timedelta(days=90) + timedelta(hours=2 + i),
         first - timedelta(days=90) + timedelta(hours=3 + i), "lost", "25.00", "0.00")
        for i in range(3)
    ] + [
        (f"LATE-000{i}", LATE_PLAYER, first - timedelta(days=20 - i), None, "pending", "20.00", "")
        for i in range(2, 6)
    ] + [
        (LATE_BET, LATE_PLAYER, first - timedelta(days=20), first + timedelta(hours=2), "lost",
         "20.00", "0.00"),
        ("LATE-0099", LATE_PLAYER, first + timedelta(hours=2, minutes=10),
         first + timedelta(hours=3), "won", "90.00", "171.00"),
    ]  # fmt: skip
    for bet_id, player, placed, settled, status, stake, payout in rows:
        con.execute(
            "insert into bets (bet_id, player_id, placed_at, settled_at, sport, market, is_live, "
            "odds_decimal, stake, payout, status) values (?, ?, ?, ?, 'NFL', 'moneyline', "
            "'false', '1.90', ?, ?, ?)",
            [bet_id, player, placed.strftime(iso), settled and settled.strftime(iso), stake,
             payout or None, status],
        )  # fmt: skip
    # the shared shift: live bets on a new sport, placed and settled between the two runs
    con.execute(
        """insert into bets (bet_id, player_id, placed_at, settled_at, sport, market, is_live,
               odds_decimal, stake, payout, status)
           select 'SHIFT-' || player_id || '-' || k, player_id,
               strftime(?::timestamp + to_minutes(cast(k * 30 + hash(player_id) % 600 as bigint)), ?),
               strftime(?::timestamp + to_minutes(cast(k * 30 + hash(player_id) % 600 + 20 as bigint)), ?),
               'CRICKET', 'moneyline', 'true', '2.10', '10.00', '0.00', 'lost'
           from (select distinct player_id from bets where player_id like 'PLR_%'
                 and hash(player_id) % 10 < 8), range(2) r(k)""",
        [first + timedelta(hours=1), iso, first + timedelta(hours=1), iso],
    )
    path = out / "bets_planted.csv"
    con.execute(f"copy bets to '{path}' (header)")
    assert second - first > timedelta(hours=12)  # the shift is placed well before the cut
    return path


def scores(wh: Warehouse, run_id: str) -> dict[str, dict[str, object]]:
    rows = wh.query_dicts(
        "select * from {analytics}.rg_risk_scores where run_id = ? order by player_id", [run_id]
    )
    return {str(r["player_id"]): r for r in rows}


def assert_same_scores(incremental: dict, full: dict) -> None:
    assert incremental.keys() == full.keys() and len(full) > 0
    for player, row in incremental.items():
        other = full[player]
        for column, value in row.items():
            if column in RUN_COLUMNS:
                continue
            expected = other[column]
            if isinstance(value, float) and isinstance(expected, float):
                assert abs(value - expected) <= 1e-9, (player, column, value, expected)
            else:
                assert value == expected, (player, column, value, expected)


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.snowflake)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "snowflake":
        yield request.getfixturevalue("fakesnow_server_settings")
    else:
        yield load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})


def test_incremental_runs_give_the_scores_of_a_full_refresh(
    tmp_path: Path, backend: Settings
) -> None:
    gen = generate(
        tmp_path / "data", players=80, days=60, seed=33, as_of=AS_OF, families="all",
        season_shift=True,
    )  # fmt: skip
    # an evening run, then one the next day: the runs cross midnight and move every window
    # boundary; the later load brings new bets and settles bets the earlier one had pending
    cuts = [AS_OF - timedelta(days=1, hours=5), AS_OF]
    bets = with_planted_cases(gen.files["bets"], tmp_path, cuts)
    loads = split_by_time(str(bets), tmp_path, cuts)
    with connect(backend) as wh:
        bootstrap(wh)
        ingest(wh, "assessments", [gen.files["assessments"]])
        first = ingest(wh, "bets", [loads[0]])
    assert first.rejected == 0
    first_run = score_batch(backend, as_of=cuts[0])
    assert first_run.status == "success", first_run.error
    incremental_first = first_run.run_id

    with connect(backend) as wh:
        before = wh.query_dicts("select * from {analytics}.int_population_references")[0]
        second = ingest(wh, "bets", [loads[1]])
    assert second.rejected == 0 and second.accepted > 0
    incremental = score_batch(backend, as_of=cuts[1])
    assert incremental.status == "success", incremental.error
    with connect(backend) as wh:
        # the hourly run did refresh only some player-days: the rest kept the first run's stamp
        stamps = wh.query(
            "select count(distinct refreshed_at), count(*) from {analytics}.int_player_days"
        )[0]
        settled = wh.query(
            "select count(*) from {analytics}.int_bets_localised l "
            "join {raw}.bets b on b.bet_id = l.bet_id "
            "where l.status <> 'pending' and l.load_id = b.load_id and l.load_id = ?",
            [second.load_id],
        )[0][0]
    assert stamps[0] == 2 and stamps[1] > 0
    assert settled > 0  # settled updates replaced their pending rows
    with connect(backend) as wh:
        after = wh.query_dicts("select * from {analytics}.int_population_references")[0]
        late = wh.query(
            "select status, settled_at from {analytics}.int_bets_localised where bet_id = ?",
            [LATE_BET],
        )
        first_scores = scores(wh, incremental_first)
        second_scores = scores(wh, incremental.run_id)
    # the three cases the incremental path must get right, present in the data:
    # the population shifted (everyone's reference moved, not only the bettors' of the load) ...
    assert after["live_shift"] > before["live_shift"] + 0.02, (before, after)
    # ... a bet placed 20 days before the first run, pending at it, settled before the second
    assert [(status, settled_at is not None) for status, settled_at in late] == [("lost", True)]
    # ... and a player scored by the first run whose bets have all left the second's window
    assert LEAVER in first_scores and LEAVER not in second_scores

    full = score_batch(backend, as_of=cuts[1], full_refresh=True)
    assert full.status == "success", full.error
    with connect(backend) as wh:
        assert wh.query("select count(distinct refreshed_at) from {analytics}.int_player_days") == [
            (1,)
        ]  # rebuilt
        assert_same_scores(scores(wh, incremental.run_id), scores(wh, full.run_id))
