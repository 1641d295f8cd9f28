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
    loads = split_by_time(gen.files["bets"], tmp_path, cuts)
    with connect(backend) as wh:
        bootstrap(wh)
        ingest(wh, "assessments", [gen.files["assessments"]])
        first = ingest(wh, "bets", [loads[0]])
    assert first.rejected == 0
    assert score_batch(backend, as_of=cuts[0]).status == "success"

    with connect(backend) as wh:
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

    full = score_batch(backend, as_of=cuts[1], full_refresh=True)
    assert full.status == "success", full.error
    with connect(backend) as wh:
        assert wh.query("select count(distinct refreshed_at) from {analytics}.int_player_days") == [
            (1,)
        ]  # rebuilt
        assert_same_scores(scores(wh, incremental.run_id), scores(wh, full.run_id))
