"""Jurisdiction trigger packs (issue #26): rules as data, evaluated by dbt in every run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings, load_settings
from dk_sentinel.errors import ConfigError, UsageError
from dk_sentinel.jurisdictions import PACKS_DIR, load_pack, selected_packs
from dk_sentinel.synthetic.generator import generate
from dk_sentinel.usecases import Sentinel
from dk_sentinel.warehouse import connect

PAYMENTS = "payment_id,player_id,requested_at,completed_at,kind,status,amount,method_id"
EVENTS = "event_id,player_id,occurred_at,event_type,value,period"


def _ts(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def _planted(folder: Path) -> tuple[Path, Path]:
    """Each NJ trigger once, each beside a near miss; a PA player under the default pack."""
    pay: list[str] = []
    ev: list[str] = []
    n = iter(range(1, 10_000))

    def deposit(player: str, at: datetime, amount: str) -> None:
        pay.append(f"D{next(n)},{player},{_ts(at)},{_ts(at)},deposit,completed,{amount},card-1")

    def cancelled_withdrawal(player: str, at: datetime) -> None:
        pid = f"W{next(n)}"
        pay.append(f"{pid},{player},{_ts(at)},,withdrawal,pending,300.00,bank-1")
        later = at + timedelta(hours=2)
        pay.append(f"{pid},{player},{_ts(at)},{_ts(later)},withdrawal,cancelled,300.00,bank-1")

    def event(player: str, at: datetime, kind: str, value: str = "", period: str = "") -> None:
        ev.append(f"E{next(n)},{player},{_ts(at)},{kind},{value},{period}")

    hours = timedelta(hours=1)
    deposit("PLR_9001_NJ", AS_OF - 20 * hours, "6000.00")  # 10,500.01 in 24 h: fires
    deposit("PLR_9001_NJ", AS_OF - 2 * hours, "4500.01")
    deposit("PLR_9002_NJ", AS_OF - 20 * hours, "9999.99")  # 9,999.99: a near miss
    deposit("PLR_9002_NJ", AS_OF - 45 * hours, "5000.00")  # 25 h before: no 24 h holds both
    for day in range(2, 14):  # 12 x 8,500 = 102,000 in 90 days, never 10,000 in a day
        deposit("PLR_9007_NJ", AS_OF - timedelta(days=day), "8500.00")
    for day in (1, 3, 6):  # three limit increases within 7 days
        event("PLR_9003_NJ", AS_OF - timedelta(days=day), "deposit_limit_increased", "500", "day")
    for day in (1, 3, 8):  # two within 7 days: a near miss
        event("PLR_9004_NJ", AS_OF - timedelta(days=day), "deposit_limit_increased", "500", "day")
    for day in (1, 4, 9):  # three cancelled withdrawals within 10 days
        cancelled_withdrawal("PLR_9005_NJ", AS_OF - timedelta(days=day))
    for day in (1, 4):  # two: a near miss
        cancelled_withdrawal("PLR_9006_NJ", AS_OF - timedelta(days=day))
    for day in (2, 9):  # self-exclusion page twice, never completed
        event("PLR_9008_NJ", AS_OF - timedelta(days=day), "self_exclusion_page_viewed")
    for day in (2, 9):  # ... and twice, then completed: not "repeating"
        event("PLR_9009_NJ", AS_OF - timedelta(days=day), "self_exclusion_page_viewed")
    event("PLR_9009_NJ", AS_OF - timedelta(days=1), "self_exclusion_started")
    players = [("PLR_9010_NJ", 3.0), ("PLR_9011_NJ", 2.98)]
    players += [(f"PLR_95{k:02d}_NJ", 2.0) for k in range(10)]  # the book: time as before
    for player, recent_hours in players:
        for k in range(5):  # 10 h in the 30 days before, then 15 h (+50 %) or 14.9 h (+49 %)
            before = AS_OF - timedelta(days=35 + 4 * k)
            event(player, before, "session_started")
            event(player, before + 2 * hours, "session_ended")
            recent = AS_OF - timedelta(days=5 + 4 * k)
            event(player, recent, "session_started")
            event(player, recent + timedelta(hours=recent_hours), "session_ended")
    for day in (1, 4, 9):  # Pennsylvania: no pack of its own, the default pack's rule
        cancelled_withdrawal("PLR_9101_PA", AS_OF - timedelta(days=day))
    for day in (1, 3, 6):  # ... which has no limit-increase rule
        event("PLR_9101_PA", AS_OF - timedelta(days=day), "deposit_limit_increased", "500", "day")
    payments, events = folder / "payments.csv", folder / "account_events.csv"
    payments.write_text("\n".join([PAYMENTS, *pay]) + "\n", encoding="utf-8")
    events.write_text("\n".join([EVENTS, *ev]) + "\n", encoding="utf-8")
    return payments, events


@pytest.fixture
def backend(scoring_backend: Settings) -> Settings:
    return scoring_backend


@pytest.mark.slow
def test_each_nj_trigger_fires_once_with_its_evidence_and_no_near_miss_does(
    backend: Settings, tmp_path: Path
) -> None:
    gen = generate(tmp_path / "data", players=20, days=30, seed=4, as_of=AS_OF)
    payments, events = _planted(tmp_path)
    db_settings = backend
    app = Sentinel(db_settings)
    app.system.initialise()
    for kind, path in (("bets", gen.files["bets"]), ("payments", payments),
                       ("account_events", events)):  # fmt: skip
        assert app.data.load(kind, [path]).rejected == 0  # type: ignore[arg-type]
    assert app.scoring.run(as_of=AS_OF).status == "success"
    with connect(db_settings) as wh:
        fired = wh.query_dicts(
            "select player_id, pack, code, window_days, value, evidence_count, action, "
            "deadline_hours from {analytics}.rg_fired_triggers order by player_id, code"
        )
    assert [(f["player_id"], f["code"]) for f in fired] == [
        ("PLR_9001_NJ", "NJ-DEP-24H"),
        ("PLR_9003_NJ", "NJ-LIMIT-UP-7D"),
        ("PLR_9005_NJ", "NJ-WD-CANCEL-10D"),
        ("PLR_9007_NJ", "NJ-DEP-90D"),
        ("PLR_9008_NJ", "NJ-SE-PAGE"),
        ("PLR_9010_NJ", "NJ-TIME-UP-50"),
        ("PLR_9101_PA", "BASE-WD-CANCEL-10D"),
    ]
    by_code = {f["code"]: f for f in fired}
    deposits = by_code["NJ-DEP-24H"]
    assert deposits["window_days"] == 1 and deposits["evidence_count"] == 2
    assert deposits["value"] == pytest.approx(10500.01)
    assert by_code["NJ-DEP-90D"]["value"] == pytest.approx(102000.0)
    assert by_code["NJ-WD-CANCEL-10D"]["value"] == 3
    assert by_code["NJ-TIME-UP-50"]["value"] == pytest.approx(50.0)
    assert by_code["BASE-WD-CANCEL-10D"]["pack"] == "base"
    assert deposits["action"] == "contact" and deposits["deadline_hours"] == 72


def test_the_shipped_packs_are_valid_and_cite_their_sources() -> None:
    shipped = sorted(p.stem for p in PACKS_DIR.glob("*.toml"))
    assert shipped == ["base", "nj", "ukgc"]
    nj = load_pack("nj")
    assert nj.status == "proposed rule, as published Sept 2025"
    assert {t.code for t in nj.triggers} == {
        "NJ-DEP-24H", "NJ-DEP-90D", "NJ-LIMIT-UP-7D", "NJ-WD-CANCEL-10D", "NJ-TIME-UP-50",
        "NJ-SE-PAGE",
    }  # fmt: skip
    assert all("13:69O-1.2A" in t.regulation for t in nj.triggers)
    ukgc = load_pack("ukgc")
    assert "operator's to set" in ukgc.status and len(ukgc.triggers) >= 7


def test_an_operators_pack_wins_and_a_broken_one_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "nj.toml").write_text(
        'pack = "nj"\nversion = "ops-1"\ntitle = "t"\nstatus = "s"\nsource = "s"\n'
        '[[triggers]]\ncode = "OPS-1"\nregulation = "house rule"\nmarker = "rg_contacts"\n'
        'window_days = 7\nthreshold = 1\nseverity = "high"\naction = "contact"\n'
        "deadline_hours = 24\n",
        encoding="utf-8",
    )
    settings = load_settings(overrides={"jurisdictions.packs_dir": tmp_path})
    packs = selected_packs(settings)
    assert packs["NJ"].version == "ops-1" and packs["*"].pack == "base"
    (tmp_path / "bad.toml").write_text('pack = "bad"\nversion = "1"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"trigger pack .*bad\.toml is invalid"):
        load_pack("bad", tmp_path)
    with pytest.raises(ConfigError, match="no trigger pack named 'mars'"):
        load_pack("mars", tmp_path)


@pytest.mark.slow
def test_a_case_from_open_through_suspension_to_closed_after_180_days_clear(
    backend: Settings, tmp_path: Path, runner: object
) -> None:
    """Issue #26: open -> three no_answer -> a suspend item in the outbox -> closed only
    after 180 days clear; every change an audit event."""
    from dk_sentinel.errors import ConflictError

    gen = generate(tmp_path / "data", players=20, days=30, seed=4, as_of=AS_OF)
    payments = tmp_path / "payments.csv"
    payments.write_text(
        PAYMENTS + "\n"
        f"D1,PLR_9001_NJ,{_ts(AS_OF - timedelta(hours=3))},{_ts(AS_OF - timedelta(hours=3))},"
        "deposit,completed,12000.00,card-1\n",
        encoding="utf-8",
    )
    moment = AS_OF + timedelta(minutes=30)
    app = Sentinel(backend, clock=lambda: moment)
    app.system.initialise()
    app.data.load("bets", [gen.files["bets"]])
    app.data.load("payments", [payments])
    assert app.scoring.run(as_of=AS_OF).status == "success"
    (case,) = app.cases.find(trigger="NJ-DEP-24H")
    if backend.warehouse.backend == "duckdb":  # the CLI shows the same
        import json

        from conftest import invoke

        listed = invoke(runner, "--db", str(backend.warehouse.duckdb.path), "cases", "list",
                        "--trigger", "NJ-DEP-24H", "--format", "json")  # fmt: skip
        assert listed.exit_code == 0, listed.stderr
        (shown,) = json.loads(listed.stdout)
        assert {"case_id", "player_id", "jurisdiction", "triggers", "due_at", "state"} <= set(shown)
        assert shown["case_id"] == case.case_id and "NJ-DEP-24H" in shown["triggers"]
    assert (case.player_id, case.jurisdiction, case.pack, case.state) == (
        "PLR_9001_NJ", "NJ", "nj", "open"
    )  # fmt: skip
    # the regulatory clock runs from when the deposits crossed the threshold (issue #36)
    assert case.triggered_at == AS_OF - timedelta(hours=3)
    assert case.due_at == AS_OF - timedelta(hours=3) + timedelta(hours=72)
    # the next hourly run still sees the deposit: the same case, its signal moved on
    assert app.scoring.run(as_of=AS_OF + timedelta(hours=1)).status == "success"
    (again,) = [c for c in app.cases.find() if c.player_id == "PLR_9001_NJ"]
    assert again.case_id == case.case_id
    assert again.last_signal_at == AS_OF + timedelta(hours=1)
    # players on the list are never marketed to: the scores export and the platform payload
    flagged = {c.player_id for c in app.cases.find()}
    scores = app.data.export("scores", "-").records or []
    assert scores and {r["player_id"] for r in scores if r["no_marketing"]} == flagged & {
        r["player_id"] for r in scores
    }
    assert any(not r["no_marketing"] for r in scores)
    risky = next(
        c.player_id for c in app.cases.find() if any(t.startswith("RISK-") for t in c.triggers)
    )
    app.interventions.record(player_id=risky, intervention_type="watchlist",
                            reason="Flagged: watch the next week", analyst_id="ana01",
                            use_ai=False)  # fmt: skip
    with connect(backend) as wh:
        (watch,) = wh.query("select payload from {ops}.outbox where player_id = ?", [risky])
        wh.execute("delete from {ops}.outbox")
    assert '"no_marketing": true' in watch[0]
    for attempt in range(3):  # NJ's phases: attempts a day apart; the last one confirmed
        day = Sentinel(backend, clock=lambda attempt=attempt: moment + timedelta(days=attempt))
        after = day.cases.contact(case.case_id, "no_answer", f"call {attempt + 1}", "ana01",
                                 confirm_suspension=attempt == 2)  # fmt: skip
    assert after.state == "suspended" and after.failed_contacts == 3
    # the regulator's view: triggers, cases, contacts, suspensions, time to first action
    (nj,) = [j for j in app.reports.compliance().jurisdictions if j.jurisdiction == "NJ"]
    assert nj.pack == "nj" and nj.triggers_fired.get("NJ-DEP-24H") == 1
    assert nj.contact_attempts == 3 and nj.suspensions == 1
    assert nj.first_action_hours_median == 0.0  # the fixed clock: contacted at once
    assert nj.flagged_payloads_without_no_marketing == 0
    with connect(backend) as wh:
        outbox = wh.query_dicts("select action, payload from {ops}.outbox")
    assert [o["action"] for o in outbox] == ["suspend"]
    assert f'"idempotency_key": "{case.case_id}:suspend"' in outbox[0]["payload"]
    with pytest.raises(ConflictError, match="cannot close before"):
        app.cases.close(case.case_id, "Player reached and agreed limits", "ana01")
    # the same rules as an intervention's reason and analyst (one definition: AnalystAction)
    with pytest.raises(UsageError, match="reason: String should have at least 10 characters"):
        app.cases.close(case.case_id, "done", "ana01")
    with pytest.raises(UsageError, match="must not contain control"):
        app.cases.close(case.case_id, "Clear for 180 days\x1b[2J", "ana01")
    with pytest.raises(UsageError, match="an analyst id is required"):
        app.cases.contact(case.case_id, "reached", "spoke to the player", None)
    later = Sentinel(backend, clock=lambda: AS_OF + timedelta(days=181))
    closed = later.cases.close(case.case_id, "Clear for 180 days; limits kept", "ana01")
    assert closed.state == "closed" and closed.closed_at == AS_OF + timedelta(days=181)
    kinds = [e.event_type for e in closed.events]
    assert kinds[0] == "opened" and kinds.count("contact") == 3
    assert "suspension_requested" in kinds and kinds[-1] == "closed"


@pytest.mark.slow
def test_analyze_shows_the_money_picture_with_counts(
    db_settings: Settings, tmp_path: Path, runner: object
) -> None:
    import json

    from conftest import invoke

    gen = generate(tmp_path / "data", players=20, days=30, seed=4, as_of=AS_OF)
    app = Sentinel(db_settings)
    app.system.initialise()
    app.data.load("bets", [gen.files["bets"]])
    app.scoring.run(as_of=AS_OF)
    player = app.players.queue(min_category="MEDIUM", limit=1).items[0].player_id
    assert app.players.analyze(player).money is None  # nothing loaded: not zeros
    hour = timedelta(hours=1)
    rows = [
        f"P1,{player},{_ts(AS_OF - 2 * hour)},{_ts(AS_OF - 2 * hour)},deposit,completed,100,c1",
        f"P2,{player},{_ts(AS_OF - 50 * hour)},{_ts(AS_OF - 50 * hour)},deposit,completed,250,c2",
        f"P3,{player},{_ts(AS_OF - 3 * hour)},,withdrawal,pending,80,b1",
        f"P3,{player},{_ts(AS_OF - 3 * hour)},{_ts(AS_OF - hour)},withdrawal,cancelled,80,b1",
        f"P4,{player},{_ts(AS_OF - 5 * hour)},,deposit,declined,500,c3",
    ]
    (tmp_path / "payments.csv").write_text("\n".join([PAYMENTS, *rows]) + "\n")
    events = [
        f"E1,{player},{_ts(AS_OF - 10 * hour)},deposit_limit_increased,500,day",
        f"E2,{player},{_ts(AS_OF - 9 * hour)},rg_page_viewed,,",
        f"E3,{player},{_ts(AS_OF - 8 * hour)},session_started,,",
        f"E4,{player},{_ts(AS_OF - 6 * hour)},session_ended,,",
    ]
    (tmp_path / "events.csv").write_text("\n".join([EVENTS, *events]) + "\n")
    app.data.load("payments", [tmp_path / "payments.csv"])
    app.data.load("account_events", [tmp_path / "events.csv"])
    # the money picture is the latest live run's, as the score is: loaded, but not yet scored
    assert app.players.analyze(player).money is None
    assert app.scoring.run(as_of=AS_OF).status == "success"
    money = app.players.analyze(player).money
    assert money is not None and money.as_of == AS_OF
    day, week = money.windows[0], money.windows[1]
    assert (day.days, day.deposits, day.deposit_count) == (1, 100.0, 1)
    assert (week.deposits, week.deposit_count, week.withdrawal_count) == (350.0, 2, 0)
    assert money.cancelled_withdrawals_30d == 1 and money.declined_deposits_30d == 1
    assert money.payment_methods_90d == 3 and money.limit_changes_30d == 1
    assert money.rg_page_visits_30d == 1 and money.session_hours_30d == 2.0
    shown = invoke(runner, "--db", str(db_settings.warehouse.duckdb.path), "analyze", player,
                   "--no-ai", "--format", "json")  # fmt: skip
    assert json.loads(shown.stdout)["money"]["cancelled_withdrawals_30d"] == 1
    table = invoke(runner, "--db", str(db_settings.warehouse.duckdb.path), "analyze", player,
                   "--no-ai")  # fmt: skip
    assert "cancelled withdrawals 1" in table.stdout
    # a money snapshot that is not the latest run's is never served
    with connect(db_settings) as wh:
        wh.execute("update {analytics}.rg_served_money set run_id = 'stale'")
    assert app.players.analyze(player).money is None


def test_spaces_do_not_make_an_analyst_id_or_a_reason_long_enough() -> None:
    from dk_sentinel.models import AnalystAction, validated

    with pytest.raises(UsageError, match="at least 3 characters besides spaces"):
        validated(AnalystAction, {"analyst_id": " a ", "reason": "Clear for 180 days"})
    with pytest.raises(UsageError, match="at least 10 characters besides spaces"):
        validated(AnalystAction, {"analyst_id": "ana01", "reason": "x         "})
    ok = validated(AnalystAction, {"analyst_id": "ana01", "reason": "Clear for 180 days"})
    assert ok.analyst_id == "ana01"
