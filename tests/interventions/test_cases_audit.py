"""Cases a regulator can audit (issue #36): triggers over every window, minimum evidence,
contact rules from the pack, on DuckDB and on Snowflake emulated by fakesnow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.errors import ConflictError, NotFoundError
from dk_sentinel.interventions.cases import (
    FLAGGED_PLAYERS,
    PackPolicy,
    correct_contact,
    get_case,
    log_contact,
)
from dk_sentinel.synthetic.generator import generate
from dk_sentinel.usecases import Sentinel
from dk_sentinel.warehouse import Warehouse, connect
from dk_sentinel.warehouse.schema import bootstrap

PAYMENTS = "payment_id,player_id,requested_at,completed_at,kind,status,amount,method_id"
EVENTS = "event_id,player_id,occurred_at,event_type,value,period"
NJ = PackPolicy(suspend_after_failed_contacts=3, min_hours_between_failed_contacts=24)


def _ts(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.snowflake)])
def wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "snowflake":
        settings = request.getfixturevalue("fakesnow_bootstrapped")
    else:
        settings = load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
    with connect(settings) as warehouse:
        bootstrap(warehouse)
        yield warehouse


def _open_case(wh: Warehouse, case_id: str = "CASE-T1", locks: bool = True) -> None:
    wh.execute(
        "insert into {ops}.cases (case_id, player_id, jurisdiction, pack, state, triggers, "
        "opened_at, due_at, last_signal_at, failed_contacts, triggered_at, locks_player) "
        "values (?, 'PLR_9001_NJ', 'NJ', 'nj', 'open', 'NJ-DEP-24H', ?, ?, ?, 0, ?, ?)",
        [case_id, AS_OF, AS_OF + timedelta(hours=72), AS_OF, AS_OF, locks],
    )


def test_failed_contacts_count_only_days_apart_and_the_suspending_one_is_confirmed(
    wh: Warehouse,
) -> None:
    """Three no_answer in two seconds are one counted attempt; the third counted one, days
    later, is refused until confirmed, and nothing is written by the refusal."""
    _open_case(wh)
    for second in range(3):
        case = log_contact(wh, "CASE-T1", "no_answer", "rang", "ana01", NJ,
                           AS_OF + timedelta(seconds=second))  # fmt: skip
    assert (case.state, case.failed_contacts) == ("in_contact", 1)
    counted = [e.fields["counted"] for e in case.events]
    assert counted == [True, False, False]
    case = log_contact(wh, "CASE-T1", "no_answer", "day two", "ana01", NJ,
                       AS_OF + timedelta(days=1))  # fmt: skip
    assert case.failed_contacts == 2
    third = AS_OF + timedelta(days=2, hours=1)
    with pytest.raises(ConflictError, match="would be failed contact 3 of 3") as refused:
        log_contact(wh, "CASE-T1", "no_answer", "day three", "ana01", NJ, third)
    assert "--yes" in (refused.value.hint or "")
    unchanged = get_case(wh, "CASE-T1", third)
    assert (unchanged.state, unchanged.failed_contacts, len(unchanged.events)) == (
        "in_contact", 2, 4
    )  # fmt: skip
    assert wh.query("select count(*) from {ops}.outbox")[0][0] == 0
    case = log_contact(wh, "CASE-T1", "no_answer", "day three", "ana01", NJ, third,
                       confirm_suspension=True)  # fmt: skip
    assert (case.state, case.failed_contacts) == ("suspended", 3)
    assert wh.query("select action from {ops}.outbox") == [("suspend",)]


def test_a_mistaken_contact_is_corrected_with_a_reason_and_stops_counting(wh: Warehouse) -> None:
    _open_case(wh)
    case = log_contact(wh, "CASE-T1", "no_answer", "wrong number", "ana01", NJ, AS_OF)
    mistaken = case.events[-1].event_id
    later = AS_OF + timedelta(hours=1)
    fixed = correct_contact(wh, "CASE-T1", mistaken, "Logged on the wrong case", "lead01", later)
    assert fixed.failed_contacts == 0
    correction = fixed.events[-1]
    assert (correction.event_type, correction.analyst_id) == ("contact_corrected", "lead01")
    assert correction.detail == {
        "event_id": mistaken, "reason": "Logged on the wrong case"
    }  # fmt: skip
    assert [e.event_type for e in fixed.events] == ["contact", "contact_corrected"]  # kept
    with pytest.raises(ConflictError, match="already corrected"):
        correct_contact(wh, "CASE-T1", mistaken, "Logged on the wrong case", "lead01", later)
    with pytest.raises(NotFoundError, match="no contact attempt"):
        correct_contact(wh, "CASE-T1", "nope", "Logged on the wrong case", "lead01", later)
    # a new failed attempt counts again at once: the withdrawn one set no spacing
    again = log_contact(wh, "CASE-T1", "no_answer", "right number", "ana01", NJ, later)
    assert again.failed_contacts == 1


def test_an_information_only_case_neither_flags_the_player_nor_waits_to_close(
    wh: Warehouse,
) -> None:
    from dk_sentinel.interventions.cases import close_case

    _open_case(wh, "CASE-INFO", locks=False)
    assert wh.query(f"select count(*) from {FLAGGED_PLAYERS} f")[0][0] == 0
    closed = close_case(wh, "CASE-INFO", "Book-wide rise: March Madness, not the player",
                        "ana01", NJ, AS_OF + timedelta(hours=2))  # fmt: skip
    assert closed.state == "closed" and not closed.locks_player
    _open_case(wh, "CASE-LOCK", locks=True)
    assert wh.query(f"select count(*) from {FLAGGED_PLAYERS} f")[0][0] == 1
    with pytest.raises(ConflictError, match="cannot close before"):
        close_case(wh, "CASE-LOCK", "Player reached and agreed limits", "ana01", NJ,
                   AS_OF + timedelta(hours=2))  # fmt: skip


# ---- triggers over every window (dbt runs: slow) ------------------------------------------


@pytest.fixture
def backend(scoring_backend: Settings) -> Settings:
    return scoring_backend


@pytest.mark.slow
def test_a_late_payments_file_opens_the_trigger_it_should_have_dated_when_crossed(
    backend: Settings, tmp_path: Path, runner: Any
) -> None:
    """$4,000 + $3,500 + $3,000 within 15 hours, loaded four days later: NJ-DEP-24H opens,
    due 72 h after it was crossed, with the delay in its audit trail; a rescore and a reload
    open nothing twice."""
    gen = generate(tmp_path / "data", players=20, days=30, seed=4, as_of=AS_OF)
    crossed = AS_OF - timedelta(days=4, hours=6)
    deposits = [(crossed - timedelta(hours=15), "4000.00"),
                (crossed - timedelta(hours=7), "3500.00"), (crossed, "3000.00")]  # fmt: skip
    payments = tmp_path / "payments.csv"
    payments.write_text(
        PAYMENTS + "\n" + "".join(
            f"L{n},PLR_9001_NJ,{_ts(at)},{_ts(at)},deposit,completed,{amount},card-1\n"
            for n, (at, amount) in enumerate(deposits)
        ),
        encoding="utf-8",
    )  # fmt: skip
    moment = AS_OF + timedelta(minutes=30)
    app = Sentinel(backend, clock=lambda: moment)
    app.system.initialise()
    app.data.load("bets", [gen.files["bets"]])
    assert app.scoring.run(as_of=AS_OF - timedelta(days=4)).status == "success"
    assert app.cases.find(trigger="NJ-DEP-24H") == []  # nothing known yet
    app.data.load("payments", [payments])  # four days late
    assert app.scoring.run(as_of=AS_OF).status == "success"
    (case,) = app.cases.find(trigger="NJ-DEP-24H")
    assert case.player_id == "PLR_9001_NJ" and case.triggered_at == crossed
    assert case.due_at == crossed + timedelta(hours=72)  # the clock ran from the crossing
    assert case.is_overdue  # found after its deadline: the regulator sees it was late
    (found,) = [e.fields for e in app.cases.get(case.case_id).events
                if e.event_type == "trigger"]  # fmt: skip
    assert found["code"] == "NJ-DEP-24H" and found["value"] == 10500.0
    assert found["found_hours_later"] == pytest.approx(
        (moment - crossed).total_seconds() / 3600, abs=0.1
    )
    # idempotent: rescoring and reloading the same file add no case, code or trigger event
    app.data.load("payments", [payments])
    assert app.scoring.run(as_of=AS_OF + timedelta(hours=1)).status == "success"
    (same,) = app.cases.find(trigger="NJ-DEP-24H")
    events = app.cases.get(same.case_id).events
    assert same.case_id == case.case_id
    assert [e.event_type for e in events].count("trigger") == 1
    # the regulator's report of the period, as a file: the crossing dated when it crossed
    since, until = AS_OF - timedelta(days=10), AS_OF + timedelta(days=1)
    report = app.reports.regulator("NJ", since, until, tmp_path / "nj.csv")
    assert report.triggers_crossed.get("NJ-DEP-24H") == 1
    assert report.cases_opened >= 1 and report.cases_overdue_at_end >= 1
    import duckdb

    assert (
        report.players_in_book
        == duckdb.sql(
            f"select count(distinct player_id) from read_csv_auto('{gen.files['bets']}') "
            f"where right(player_id, 2) = 'NJ' and placed_at >= '{since}' and placed_at < '{until}'"
        ).fetchall()[0][0]
    )
    import csv

    with open(tmp_path / "nj.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["section", "item", "value"]
    assert ["triggers_crossed", "NJ-DEP-24H", "1"] in rows
    assert ["period", "jurisdiction", "NJ"] in rows
    if backend.warehouse.backend == "duckdb":  # the CLI writes the other formats
        from conftest import invoke

        db = str(backend.warehouse.duckdb.path)
        for suffix in ("json", "html"):
            out = tmp_path / f"nj.{suffix}"
            result = invoke(runner, "--db", db, "report", "regulator",
                            "--jurisdiction", "NJ", "--since", since.isoformat(), "--until",
                            until.isoformat(), "--out", str(out))  # fmt: skip
            assert result.exit_code == 0, result.stderr
            assert f"wrote {out}" in result.stderr
        assert json.loads((tmp_path / "nj.json").read_text())["triggers_crossed"] == {
            "NJ-DEP-24H": 1
        }
        assert "<td>NJ-DEP-24H</td>" in (tmp_path / "nj.html").read_text()
        bad = invoke(runner, "--db", db, "report", "regulator", "--jurisdiction",
                     "NJ", "--since", since.isoformat(), "--until", until.isoformat(),
                     "--out", str(tmp_path / "nj.pdf"))  # fmt: skip
        assert bad.exit_code == 2 and "Use .csv, .json or .html" in bad.stderr


@pytest.mark.slow
def test_time_on_site_needs_a_baseline_and_is_read_beyond_the_book(
    backend: Settings, tmp_path: Path
) -> None:
    """NJ-TIME-UP-50 as the pack reads it: a rise from three sessions is no pattern; a
    book-wide rise (a tournament) lifts no one; a rise 50 % beyond the book's fires, as
    information only (the player stays off the no-marketing list)."""
    gen = generate(tmp_path / "data", players=20, days=30, seed=4, as_of=AS_OF)
    rows: list[str] = []
    n = iter(range(1, 100_000))

    def sessions(player: str, count: int, hours: float, first_day: int) -> None:
        for k in range(count):
            start = AS_OF - timedelta(days=first_day + 4 * k)
            rows.append(f"E{next(n)},{player},{_ts(start)},session_started,,")
            rows.append(
                f"E{next(n)},{player},{_ts(start + timedelta(hours=hours))},session_ended,,"
            )

    for p in range(20):  # the book: +40 % (a tournament fortnight), five sessions each period
        sessions(f"PLR_95{p:02d}_NJ", 5, 2.0, 35)
        sessions(f"PLR_95{p:02d}_NJ", 5, 2.8, 5)
    sessions("PLR_9601_NJ", 5, 2.0, 35)  # +40 %: the book's rise, not the player's
    sessions("PLR_9601_NJ", 5, 2.8, 5)
    sessions("PLR_9602_NJ", 5, 2.0, 35)  # +100 %: 57 % beyond the book's (weighed 22 / 32)
    sessions("PLR_9602_NJ", 5, 4.0, 5)
    sessions("PLR_9603_NJ", 3, 1.0, 35)  # three sessions before: no baseline, however it rises
    sessions("PLR_9603_NJ", 6, 3.0, 5)
    events = tmp_path / "account_events.csv"
    events.write_text("\n".join([EVENTS, *rows]) + "\n", encoding="utf-8")
    app = Sentinel(backend, clock=lambda: AS_OF + timedelta(minutes=30))
    app.system.initialise()
    app.data.load("bets", [gen.files["bets"]])
    app.data.load("account_events", [events])
    assert app.scoring.run(as_of=AS_OF).status == "success"
    with connect(backend) as wh:
        fired = wh.query_dicts(
            "select player_id, value, judged_value, population_rise_pct, locks_case "
            "from {analytics}.rg_fired_triggers where code = 'NJ-TIME-UP-50'"
        )
        flagged = {r[0] for r in wh.query(f"select player_id from {FLAGGED_PLAYERS} f")}
    assert [f["player_id"] for f in fired] == ["PLR_9602_NJ"]
    (time_up,) = fired
    assert time_up["value"] == pytest.approx(100.0)
    assert time_up["judged_value"] == pytest.approx((2.0 / (1 + 0.4 * 22 / 32) - 1) * 100, abs=1e-3)
    assert time_up["population_rise_pct"] == pytest.approx(40.0)
    assert not time_up["locks_case"]
    (case,) = app.cases.find(trigger="NJ-TIME-UP-50")
    assert case.player_id == "PLR_9602_NJ" and not case.locks_player
    assert "PLR_9602_NJ" not in flagged


# ---- case commands, paging and claims ---------------------------------------------------------


def test_contest_reopen_assign_note_are_audited_state_changes(wh: Warehouse) -> None:
    from dk_sentinel.interventions.cases import (
        assign_case,
        close_case,
        contest_case,
        note_case,
        reopen_case,
    )

    _open_case(wh, "CASE-C1", locks=False)
    at = AS_OF + timedelta(hours=1)
    case = assign_case(wh, "CASE-C1", "ana02", "lead01", at)
    assert case.assigned_to == "ana02"
    case = note_case(wh, "CASE-C1", "Player emailed; call tomorrow", "ana02", at)
    case = contest_case(wh, "CASE-C1", "Deposits were a salary transfer, not gambling", "ana02", at)
    assert case.state == "contested"
    with pytest.raises(ConflictError, match="is contested: it cannot be contested"):
        contest_case(wh, "CASE-C1", "Deposits were a salary transfer again", "ana02", at)
    with pytest.raises(ConflictError, match="it cannot be reopened"):
        reopen_case(wh, "CASE-C1", "New deposits seen this week", "ana02", at)
    close_case(wh, "CASE-C1", "Contest upheld: salary transfer", "lead01", NJ, at)
    _open_case(wh, "CASE-C2")  # the same player's new case
    with pytest.raises(ConflictError, match="already has an open case"):
        reopen_case(wh, "CASE-C1", "New deposits seen this week", "ana02", at)
    wh.execute("update {ops}.cases set state = 'closed' where case_id = 'CASE-C2'")
    case = reopen_case(wh, "CASE-C1", "New deposits seen this week", "ana02", at)
    assert (case.state, case.closed_at, case.close_reason) == ("open", None, None)
    assert [(e.event_type, e.analyst_id) for e in case.events] == [
        ("assigned", "lead01"), ("note", "ana02"), ("contested", "ana02"), ("closed", "lead01"),
        ("reopened", "ana02"),
    ]  # fmt: skip
    assert case.events[0].detail == "ana02"
    from dk_sentinel.errors import UsageError

    with pytest.raises(UsageError, match="a note needs some text"):
        note_case(wh, "CASE-C1", "   ", "ana02", at)


def test_a_claim_keeps_a_player_for_one_analyst_until_it_expires(wh: Warehouse) -> None:
    from dk_sentinel.analysis.assessment import claim_next
    from dk_sentinel.models import Queue, QueueItem

    def item(player: str) -> QueueItem:
        return QueueItem(player_id=player, state="NJ", risk_category="HIGH",
                         composite_risk_score=0.7, primary_driver=None, change_7d=None,
                         first_reached_at=None, sla_due_at=None, is_overdue=False,
                         has_active_intervention=False)  # fmt: skip

    queue = Queue(run_id="r", as_of=AS_OF, min_category="HIGH",
                  items=[item("PLR_1001_NJ"), item("PLR_1002_NJ")])  # fmt: skip
    first = claim_next(wh, queue, "ana01", 30, AS_OF)
    assert (first.player_id, first.claimed_by) == ("PLR_1001_NJ", "ana01")
    assert first.claim_expires_at == AS_OF + timedelta(minutes=30)
    second = claim_next(wh, queue, "ana02", 30, AS_OF + timedelta(minutes=1))
    assert second.player_id == "PLR_1002_NJ"  # ana01's player is skipped
    again = claim_next(wh, queue, "ana01", 30, AS_OF + timedelta(minutes=2))
    assert again.player_id == "PLR_1001_NJ"  # one's own claim is renewed
    with pytest.raises(NotFoundError, match="no player left to claim"):
        claim_next(wh, queue, "ana03", 30, AS_OF + timedelta(minutes=3))
    expired = claim_next(wh, queue, "ana03", 30, AS_OF + timedelta(minutes=31, seconds=30))
    assert expired.player_id == "PLR_1002_NJ"  # ana02's claim ran out (ana01 renewed at +2)


def test_a_console_session_ends_idle_at_its_lifetime_at_sign_out_and_with_its_key(
    wh: Warehouse,
) -> None:
    """Issue #37: the console's cookie is an opaque server-side session."""
    from dk_sentinel.apikeys import authenticate, create_key, end_session, revoke_key, start_session

    key = create_key(wh, "ana01", "analyst", now=AS_OF)
    life, idle = timedelta(hours=12), timedelta(minutes=30)

    def opened() -> str:
        return start_session(wh, key, idle=idle, lifetime=life, now=AS_OF)

    token = opened()
    assert token.startswith("ss_") and key.api_key not in token
    stored = wh.query("select session_hash from {ops}.console_sessions")
    assert all(token not in row[0] for row in stored)  # only its hash is kept
    seen = authenticate(wh, token, idle=idle, now=AS_OF + timedelta(minutes=20))
    assert seen is not None and seen.analyst_id == "ana01"
    # used at +20 min: idle counts from then
    assert authenticate(wh, token, idle=idle, now=AS_OF + timedelta(minutes=45)) is not None
    assert authenticate(wh, token, idle=idle, now=AS_OF + timedelta(minutes=90)) is None
    late = opened()
    assert authenticate(wh, late, idle=timedelta(days=1), now=AS_OF + timedelta(hours=13)) is None
    out = opened()
    end_session(wh, out, now=AS_OF + timedelta(minutes=1))
    assert authenticate(wh, out, idle=idle, now=AS_OF + timedelta(minutes=2)) is None
    revoked = opened()
    revoke_key(wh, key.key_id, now=AS_OF + timedelta(minutes=1))
    assert authenticate(wh, revoked, idle=idle, now=AS_OF + timedelta(minutes=2)) is None


def test_superseding_a_timeout_queues_its_end_for_the_platform(wh: Warehouse) -> None:
    """Issue #36 on both adapters: the replaced timeout gets intervention.superseded (its own
    idempotency key, cancelled_at and superseded_by), the new one names what it supersedes."""
    from types import SimpleNamespace

    from dk_sentinel.interventions.records import create_intervention, parse_request

    snapshot = SimpleNamespace(run_id="r1", composite_risk_score=0.7, risk_category="HIGH")

    def timeout(hours: int, supersede: bool) -> str:
        request = parse_request(player_id="PLR_9001_NJ", intervention_type="timeout",
                                duration_hours=hours, reason="Cooling-off agreed by phone",
                                analyst_id="ana01", supersede=supersede)  # fmt: skip
        made = create_intervention(wh, request, snapshot, now=AS_OF)  # type: ignore[arg-type]
        return made.intervention_id

    old = timeout(72, False)
    new = timeout(2, True)
    items = {
        payload["idempotency_key"]: payload
        for payload in (json.loads(r[0]) for r in wh.query("select payload from {ops}.outbox"))
    }
    assert set(items) == {old, f"{old}:superseded", new}
    ended = items[f"{old}:superseded"]
    assert ended["event"] == "intervention.superseded" and ended["superseded_by"] == new
    assert ended["cancelled_at"] == "2026-11-01T00:00:00Z"
    assert items[new]["supersedes"] == [old] and items[new]["duration_hours"] == 2
    actions = sorted(r[0] for r in wh.query("select action from {ops}.outbox"))
    assert actions == ["created", "created", "superseded"]
