"""Ingest per the data contract: strict, set-based, lossless, idempotent -- on both backends."""

import csv
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from conftest import invoke
from dk_sentinel.config import load_settings
from dk_sentinel.errors import PartialFailure, UsageError
from dk_sentinel.ingest import ingest
from dk_sentinel.warehouse import Warehouse, connect
from dk_sentinel.warehouse.schema import bootstrap

HEADER = (
    "bet_id,player_id,placed_at,settled_at,sport,market,is_live,odds_decimal,stake,payout,status"
)
GOOD = [
    "B1,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.91,10,0,lost",
    "B2,PLR_1234_MA,2026-01-01T10:00:00-05:00,,NBA,total,1,1.91,25.50,,pending",
    "B9,PLR_567890_NJ,2026-01-02T22:00:00Z,2026-01-02T22:30:00Z,ESPORTS,,TRUE,3.5,100,350,won",
]
BAD = {
    "B3,PLR_12_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.91,10,19.1,won": "player_id 'PLR_12_MA' does not match",
    "B4,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.91,-5,0,lost": "stake '-5' must be greater than 0",
    "B5,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T09:00:00,NFL,spread,false,1.91,10,0,lost": "settled_at is before placed_at",
    "B6,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.91,10,0,lostt": "status 'lostt' is not one of",
    "B7,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.00,10,0,lost": "odds_decimal '1.00' is below the minimum 1.01",
    ",PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.91,10,0,lost": "bet_id is missing",
    "B1,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,1.91,10,0,lost": "duplicate bet_id in this load",
    "B8,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,false,abc,10,0,lost": "odds_decimal 'abc' is not a number",
    "B10,PLR_1234_MA,2026-01-01T10:00:00,,NFL,spread,false,1.91,10,,won": "settled_at is required when status is won",
    "B11,PLR_1234_MA,yesterday,,NFL,spread,false,1.91,10,,pending": "placed_at 'yesterday' is not an ISO 8601 timestamp",
    "B12,PLR_1234_MA,2026-01-01T10:00:00,2026-01-01T12:00:00,NFL,spread,maybe,1.91,10,10,push": "is_live 'maybe' is not true/false/1/0",
}
TRUNCATED = "B13,PLR_1234_MA,2026-01-01T10:00"


def bets_file(path: Path, *rows: str, header: str = HEADER) -> Path:
    """Write a bets CSV with the header and these rows; return its path."""
    path.write_text("\n".join([header, *rows]), encoding="utf-8")
    return path


def messy_file(path: Path) -> Path:
    return bets_file(path, GOOD[0], GOOD[1], "", *BAD, GOOD[2], "   ", TRUNCATED)


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.snowflake)])
def wh(request: pytest.FixtureRequest, tmp_path: Path):
    settings = (
        load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
        if request.param == "duckdb"
        else request.getfixturevalue("fakesnow_bootstrapped")
    )
    with connect(settings) as warehouse:
        bootstrap(warehouse)
        yield warehouse


def load(wh: Warehouse, kind: str, *paths: Path, **kw):
    return ingest(wh, kind, list(paths), **kw)  # type: ignore[arg-type]


def test_messy_file_loads_exactly_the_valid_rows(wh: Warehouse, tmp_path: Path) -> None:
    path = messy_file(tmp_path / "bets.csv")
    result = ingest(wh, "bets", [path], rejects_out=tmp_path / "rejects.csv")
    failure = result.failure()
    assert isinstance(failure, PartialFailure) and failure.exit_code == 4
    file = result.files[0]
    assert file.rows_read == 3 + len(BAD) + 1 + 1  # blank lines are not rows; whitespace-only is
    assert file.accepted == 3
    assert file.accepted + file.already_present + file.rejected == file.rows_read
    stored = sorted(r[0] for r in wh.query("select bet_id from {raw}.bets"))
    assert stored == ["B1", "B2", "B9"]
    # offsets are converted to UTC; no offset means UTC
    placed = dict(wh.query("select bet_id, cast(placed_at as varchar) from {raw}.bets"))
    assert placed["B2"].startswith("2026-01-01 15:00:00")
    assert placed["B9"].startswith("2026-01-02 22:00:00")
    reasons = [r[0] for r in wh.query("select reasons from {ops}.ingest_rejects")]
    for expected in BAD.values():
        assert any(expected in r for r in reasons), expected
    truncated = [r for r in reasons if "sport is missing" in r]
    assert truncated and "stake is missing" in truncated[0] and "status is missing" in truncated[0]
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == file.rejected
    assert all(r["reasons"] and r["row"] for r in rows)
    assert json.loads(rows[0]["raw_record"])["bet_id"]  # the raw values are kept


def test_rejects_name_their_file_and_row_across_files(wh: Warehouse, tmp_path: Path) -> None:
    first = bets_file(tmp_path / "a.csv", GOOD[0], GOOD[1])
    bad_stake = GOOD[2].replace("B9", "B4").replace(",100,350,", ",-1,350,")
    second = bets_file(tmp_path / "b.csv", GOOD[2], GOOD[0], bad_stake)
    result = load(wh, "bets", first, second)
    assert (result.rows_read, result.accepted, result.rejected) == (5, 3, 2)
    rejects = dict(
        wh.query(
            "select source_file || ' row ' || cast(line_number as varchar), reasons "
            "from {ops}.ingest_rejects"
        )
    )
    assert rejects == {
        f"{second} row 2": f"duplicate bet_id in this load (first at {first} row 1)",
        f"{second} row 3": "stake '-1' must be greater than 0",
    }


@pytest.mark.parametrize(
    ("placed_at", "utc"),
    [
        ("2026-01-01T10:00:00+02", "2026-01-01 08:00:00"),
        ("2026-01-01T10:00:00-0530", "2026-01-01 15:30:00"),
        ("2026-01-01T10:00:00.250+01:00", "2026-01-01 09:00:00.25"),
        ("2026-01-01T10:00:00Z", "2026-01-01 10:00:00"),
        ("2026-01-01 10:00:00", "2026-01-01 10:00:00"),
    ],
)
def test_every_iso_offset_form_is_converted_to_utc(
    wh: Warehouse, tmp_path: Path, placed_at: str, utc: str
) -> None:
    path = bets_file(tmp_path / "bets.csv", GOOD[1].replace("2026-01-01T10:00:00-05:00", placed_at))
    ingest(wh, "bets", [path])
    stored = wh.query("select cast(placed_at as varchar) from {raw}.bets")[0][0]
    assert stored.removesuffix(".000") == utc


def test_loading_again_adds_nothing(wh: Warehouse, tmp_path: Path) -> None:
    path = messy_file(tmp_path / "bets.csv")
    load(wh, "bets", path)
    again = load(wh, "bets", path)
    assert again.accepted == 0 and again.already_present == 3
    assert wh.query("select count(*) from {raw}.bets")[0][0] == 3


def test_conflicting_content_is_rejected_not_overwritten(wh: Warehouse, tmp_path: Path) -> None:
    ingest(wh, "bets", [bets_file(tmp_path / "a.csv", GOOD[0])])
    changed = bets_file(tmp_path / "b.csv", GOOD[0].replace(",10,0,lost", ",99,0,lost"))
    result = load(wh, "bets", changed)
    assert result.rejected == 1 and result.accepted == 0
    assert "conflict" in next(iter(result.files[0].top_reasons))
    assert float(wh.query("select stake from {raw}.bets where bet_id = 'B1'")[0][0]) == 10.0


def test_pending_bet_may_settle_later(wh: Warehouse, tmp_path: Path) -> None:
    ingest(wh, "bets", [bets_file(tmp_path / "a.csv", GOOD[1])])
    settled = bets_file(
        tmp_path / "b.csv",
        "B2,PLR_1234_MA,2026-01-01T10:00:00-05:00,2026-01-01T18:00:00,NBA,total,1,1.91,25.50,48.71,won",
    )
    result = ingest(wh, "bets", [settled])
    assert result.accepted == 1
    assert wh.query("select status, count(*) from {raw}.bets group by 1") == [("won", 1)]


def test_missing_required_column_exits_2_and_loads_nothing(runner, tmp_path: Path) -> None:
    assert invoke(runner, "init").exit_code == 0
    good = bets_file(tmp_path / "good.csv", GOOD[0])
    bad = bets_file(
        tmp_path / "nostake.csv",
        "B1,PLR_1234_MA,2026-01-01T10:00:00,,NFL,,,1.9,,pending\n",
        header=HEADER.replace(",stake", ""),
    )
    result = invoke(runner, "ingest", "bets", str(good), str(bad))
    assert result.exit_code == 2
    assert "missing required column(s): stake" in result.stderr
    with connect(load_settings()) as wh:
        assert wh.query("select count(*) from {raw}.bets")[0][0] == 0


def test_not_csv_or_parquet_exits_2(runner, tmp_path: Path) -> None:
    invoke(runner, "init")
    (tmp_path / "bets.xlsx").write_text("x", encoding="utf-8")
    result = invoke(runner, "ingest", "bets", str(tmp_path / "bets.xlsx"))
    assert result.exit_code == 2 and "neither CSV nor Parquet" in result.stderr


def test_cli_json_summary_and_exit_codes(runner, tmp_path: Path) -> None:
    invoke(runner, "init")
    path = messy_file(tmp_path / "bets.csv")
    result = invoke(runner, "ingest", "bets", str(path), "--format", "json")
    assert result.exit_code == 4
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 3 and summary["rejected"] == summary["rows_read"] - 3
    rejected = f"{summary['rejected']} of {summary['rows_read']} rows rejected"
    assert f"{rejected}; the valid ones are loaded (3 new, 0 already present)" in result.stderr
    again = invoke(runner, "ingest", "bets", str(path))
    assert again.exit_code == 4 and "(0 new, 3 already present)" in again.stderr
    clean = bets_file(tmp_path / "clean.csv", GOOD[2].replace("B9", "B20"))
    ok = invoke(runner, "ingest", "bets", str(clean))
    assert ok.exit_code == 0 and "Error" not in ok.stderr and "1 accepted" in ok.stderr


def test_parquet_directory_and_glob(wh: Warehouse, tmp_path: Path) -> None:
    from datetime import datetime

    from dk_sentinel.synthetic.generator import generate

    gen = generate(
        tmp_path / "gen",
        players=40,
        days=20,
        seed=3,
        as_of=datetime(2026, 6, 1),
        file_format="parquet",
    )
    result = ingest(wh, "bets", [tmp_path / "gen"])  # a directory: only bets*.parquet
    assert result.accepted == gen.bets and result.rejected == 0
    assessments = ingest(wh, "assessments", [str(tmp_path / "gen" / "assess*.parquet")])
    assert assessments.accepted == gen.assessments
    outcomes = ingest(wh, "outcomes", [tmp_path / "gen" / "outcomes.parquet"])
    assert outcomes.accepted == gen.outcomes
    assert (
        ingest(wh, "outcomes", [tmp_path / "gen" / "outcomes.parquet"]).already_present
        == gen.outcomes
    )


def test_unknown_columns_are_ignored_with_a_warning(wh: Warehouse, tmp_path: Path, caplog) -> None:
    path = tmp_path / "bets.csv"
    bets_file(path, GOOD[0] + ",hello", header=HEADER.upper() + ",Notes")
    assert ingest(wh, "bets", [path]).accepted == 1
    assert "ignoring unknown column(s) notes" in caplog.text


def test_missing_path_is_a_usage_error(wh: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        ingest(wh, "bets", [tmp_path / "nope.csv"])
    with pytest.raises(UsageError, match="matches no file"):
        ingest(wh, "bets", [str(tmp_path / "*.csv")])


# ---- property-based: whatever the row, it is loaded or rejected with a reason ----------------

cell = st.one_of(
    st.just(""),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='\x00"\r\n'), max_size=12),
    st.sampled_from(["PLR_1234_MA", "PLR_99_X", "2026-01-01T10:00:00", "2026-01-01 09:00:00+02:00", "won",
                     "lost", "pending", "push", "1.5", "0", "-3", "1.01", "true", "NFL", "spread", "1e3"]),
)  # fmt: skip


@pytest.mark.slow  # 25 generated files, each loaded into a new warehouse
@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(cell, min_size=11, max_size=11), min_size=1, max_size=15))
@example(rows=[[""] * 11, [""] * 11, [""] * 10 + ["'"], [""] * 10 + ["'\x80"]])  # found by CI
@example(
    rows=[["B1", "PLR_1234_MA", "2026-01-01", "", "NFL", "", "", "2.0", "5", "", "pending"]] * 2
)
def test_property_every_row_is_loaded_or_rejected(tmp_path: Path, rows: list[list[str]]) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "bets.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER.split(","))
        writer.writerows(rows)
    settings = load_settings(overrides={"warehouse.duckdb.path": folder / "w.duckdb"})
    with connect(settings) as wh:
        bootstrap(wh)
        result = load(wh, "bets", path)
        f = result.files[0]
        stored = wh.query("select count(*), count(distinct bet_id) from {raw}.bets")[0]
        rejects = wh.query("select count(*), min(length(reasons)) from {ops}.ingest_rejects")[0]
    assert f.accepted + f.already_present + f.rejected == f.rows_read
    assert stored[0] == stored[1] == f.accepted  # nothing duplicated
    assert rejects[0] == f.rejected and (
        rejects[0] == 0 or rejects[1] > 0
    )  # every reject has a reason


def test_a_timestamp_in_the_future_is_rejected_with_its_reason(
    wh: Warehouse, tmp_path: Path
) -> None:
    """Issue #24: a bet placed in 2030 was accepted and moved the backtest's "observed until"."""
    future = "B20,PLR_1234_MA,2030-01-01T10:00:00,,NFL,spread,false,1.91,10,,pending"
    settles_later = (
        "B21,PLR_1234_MA,2026-01-01T10:00:00,2031-01-01T12:00:00,NFL,spread,false,1.91,10,0,lost"
    )
    path = bets_file(tmp_path / "future.csv", GOOD[0], future, settles_later)
    with pytest.raises(PartialFailure):
        result = ingest(wh, "bets", [path])
        raise result.failure() or AssertionError("rows were rejected")
    reasons = dict(wh.query("select line_number, reasons from {ops}.ingest_rejects"))
    assert "placed_at '2030-01-01T10:00:00' is in the future" in reasons[2]  # data rows
    assert "settled_at '2031-01-01T12:00:00' is in the future" in reasons[3]
    assert wh.query("select bet_id from {raw}.bets") == [("B1",)]
    # the tolerance is the operator's ([ingest] max_future_minutes)
    again = bets_file(tmp_path / "again.csv", future)
    assert ingest(wh, "bets", [again], max_future_minutes=60 * 24 * 365 * 10).accepted == 1


PAYMENTS = "payment_id,player_id,requested_at,completed_at,kind,status,amount,method_id"


def test_payments_load_strictly_and_keep_each_status_change_as_history(
    wh: Warehouse, tmp_path: Path
) -> None:
    """Issue #26 (data contract v1.1, section 4)."""
    first = bets_file(
        tmp_path / "payments_1.csv",
        "P1,PLR_1234_MA,2026-11-01T10:00:00Z,2026-11-01T10:00:05Z,deposit,completed,500.00,card-1",
        "P2,PLR_1234_MA,2026-11-02T09:00:00Z,,withdrawal,pending,200.00,bank-1",
        "P3,PLR_1234_MA,2026-11-02T09:00:00Z,,deposit,completed,50.00,",  # no completed_at
        "P4,PLR_12_MA,2026-11-02T09:00:00Z,,deposit,pending,-5,",  # bad id, bad amount
        "P5,PLR_1234_MA,2026-11-03T09:00:00Z,2026-11-02T09:00:00Z,deposit,completed,5,c",
        "P6,PLR_1234_MA,2026-11-03T09:00:00Z,,refund,pending,5,",
        header=PAYMENTS,
    )
    result = load(wh, "payments", first)
    assert result.accepted == 2 and result.rejected == 4
    reasons = " | ".join(r[0] for r in wh.query("select reasons from {ops}.ingest_rejects"))
    for expected in (
        "completed_at is required when status is completed",
        "player_id 'PLR_12_MA' does not match",
        "amount '-5' must be greater than 0",
        "completed_at is before requested_at",
        "kind 'refund' is not one of deposit/withdrawal",
    ):
        assert expected in reasons, expected
    # the pending withdrawal is cancelled by the player: a status change, kept as history
    later = bets_file(
        tmp_path / "payments_2.csv",
        "P2,PLR_1234_MA,2026-11-02T09:00:00Z,2026-11-02T18:00:00Z,withdrawal,cancelled,200.00,"
        "bank-1",
        "P1,PLR_1234_MA,2026-11-01T10:00:00Z,2026-11-01T10:00:05Z,deposit,completed,500.00,card-1",
        header=PAYMENTS,
    )
    again = load(wh, "payments", later)
    assert (again.accepted, again.already_present, again.rejected) == (1, 1, 0)
    history = wh.query(
        "select status from {raw}.payments where payment_id = 'P2' order by loaded_at, status"
    )
    assert history == [("pending",), ("cancelled",)]
    conflict = bets_file(
        tmp_path / "payments_3.csv",
        "P1,PLR_1234_MA,2026-11-01T10:00:00Z,2026-11-01T10:00:05Z,deposit,completed,900.00,card-1",
        header=PAYMENTS,
    )
    assert load(wh, "payments", conflict).rejected == 1  # the stored row is kept


def test_account_events_load_strictly(wh: Warehouse, tmp_path: Path) -> None:
    """Issue #26 (data contract v1.1, section 5)."""
    path = bets_file(
        tmp_path / "account_events.csv",
        "E1,PLR_1234_MA,2026-11-01T10:00:00Z,deposit_limit_increased,1000,week",
        "E2,PLR_1234_MA,2026-11-01T11:00:00Z,self_exclusion_page_viewed,,",
        "E3,PLR_1234_MA,2026-11-01T12:00:00Z,timeout_started,24,",
        "E4,PLR_1234_MA,2026-11-01T12:00:00Z,login,,week",
        "E5,PLR_1234_MA,2026-11-01T12:00:00Z,limit_raised,,",
        "E6,PLR_1234_MA,2026-11-01T12:00:00Z,deposit_limit_set,-10,day",
        header="event_id,player_id,occurred_at,event_type,value,period",
    )
    result = load(wh, "account_events", path)
    assert result.accepted == 3 and result.rejected == 3
    reasons = " | ".join(r[0] for r in wh.query("select reasons from {ops}.ingest_rejects"))
    assert "period applies only to deposit limit events" in reasons
    assert "event_type 'limit_raised' is not one of" in reasons
    assert "value '-10' must not be negative" in reasons
    assert load(wh, "account_events", path).already_present == 3


def test_cli_ingests_account_events_by_their_hyphenated_name(runner, tmp_path: Path) -> None:
    invoke(runner, "init")
    path = bets_file(
        tmp_path / "events.csv", "E1,PLR_1234_MA,2026-11-01T10:00:00Z,login,,",
        header="event_id,player_id,occurred_at,event_type,value,period",
    )  # fmt: skip
    result = invoke(runner, "ingest", "account-events", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "account_events"


def test_loads_are_stamped_on_the_warehouses_clock_not_the_hosts(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#38: the skip check compares a load's ``loaded_at`` with the last run's watermark, so
    every ingest host stamps its loads on the warehouse's clock: a host whose clock is a day
    behind still stamps now (on Snowflake, SYSDATE())."""
    from datetime import UTC, datetime, timedelta

    import dk_sentinel.models

    behind = dk_sentinel.models.utcnow() - timedelta(days=1)
    monkeypatch.setattr("dk_sentinel.ingest.utcnow", lambda: behind, raising=False)
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    load(wh, "bets", messy_file(tmp_path / "bets.csv"))
    stamps = wh.query("select min(loaded_at), max(loaded_at) from {raw}.bets")[0]
    assert stamps[0] == stamps[1] and stamps[0] > before
    loads = wh.query("select loaded_at from {ops}.ingest_loads where kind = 'bets'")
    assert loads == [(stamps[0],)]
