"""The analyst's day: analyze, queue, intervene, interventions, export, report."""

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest

from conftest import invoke
from dk_sentinel.config import Settings
from dk_sentinel.warehouse import connect


def cli(runner, settings: Settings, *args: str):
    return invoke(runner, "--db", str(settings.warehouse.duckdb.path), *args)


def intervene(runner, settings: Settings, *args: str):
    return cli(runner, settings, "intervene", *args)


def test_analyze_json_validates_against_published_schema(
    runner, scored: Settings, top_player: str
) -> None:
    result = cli(runner, scored, "analyze", top_player, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    schema = json.loads(invoke(runner, "schema", "RiskAssessment").stdout)
    jsonschema.validate(data, schema)
    assert data["player_id"] == top_player
    assert data["risk_category"] == "CRITICAL"
    assert set(data["component_scores"]) == {
        "loss_chase",
        "bet_escalation",
        "market_drift",
        "temporal_risk",
        "money_behaviour",
        "gamalyze",
    }
    assert set(data["components_present"]) <= set(data["component_scores"])
    assert data["evidence"][data["primary_driver"]]["summary"]
    assert data["open_interventions"] == []
    assert data["history"] is None


def test_analyze_table_shows_category_evidence_and_freshness(
    runner, scored: Settings, top_player: str
) -> None:
    result = cli(runner, scored, "analyze", top_player, "--history")
    assert result.exit_code == 0
    assert "CRITICAL" in result.stdout and "component" in result.stdout
    assert "last scoring run" in result.stdout and "90-day history" in result.stdout
    assert "No open interventions." in result.stdout


def test_analyze_bad_and_unknown_ids(runner, scored: Settings) -> None:
    bad = cli(runner, scored, "analyze", "PLR_12_MA")
    assert bad.exit_code == 2 and "PLR_<4-6 digits>_<two-letter state>" in bad.stderr
    unknown = cli(runner, scored, "analyze", "PLR_999999_MA")
    assert unknown.exit_code == 3
    assert "not found in the risk database" in unknown.stderr and "score-batch" in unknown.stderr


def test_analyze_before_any_scoring_is_not_found(runner) -> None:
    invoke(runner, "init")
    result = invoke(runner, "analyze", "PLR_1234_MA")
    assert result.exit_code == 3 and "nothing scored yet" in result.stderr


def test_freshness_warns_only_when_bets_arrived_after_the_run_read_them(
    runner, scored: Settings, top_player: str
) -> None:
    def warned() -> bool:
        result = cli(runner, scored, "analyze", top_player, "--format", "json")
        return json.loads(result.stdout)["freshness"]["scores_older_than_ingest"]

    # The run read a load that ended 0.3 s into the second the run started in: runs are
    # stamped in whole seconds, so "loaded after the run started" would be a false alarm.
    loaded = datetime(2026, 11, 27, 11, 20, 32, 300000)
    with connect(scored) as wh:
        wh.execute("update {ops}.scoring_runs set watermark = ?, started_at = ?", [
            loaded, loaded.replace(microsecond=0)])  # fmt: skip
        wh.execute("update {ops}.ingest_loads set loaded_at = ?", [loaded])
        wh.execute("update {analytics}.rg_risk_scores set scored_at = ?", [
            loaded.replace(microsecond=0)])  # fmt: skip
    assert warned() is False
    # A later load that only found bets already present gives nothing new to score.
    later = ["late", "bets", "again.csv", 5, 0, 5, 0, loaded + timedelta(minutes=5)]
    with connect(scored) as wh:
        wh.execute("insert into {ops}.ingest_loads values (?, ?, ?, ?, ?, ?, ?, ?)", later)
    assert warned() is False
    # A later load that added bets does.
    later[4] = 2
    with connect(scored) as wh:
        wh.execute("insert into {ops}.ingest_loads values (?, ?, ?, ?, ?, ?, ?, ?)", later)
    assert warned() is True
    result = cli(runner, scored, "analyze", top_player)
    assert "bets were ingested after this score" in result.stdout


def test_tables_sent_to_a_pipe_keep_ids_whole(
    runner, scored: Settings, top_player: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dk_sentinel.cli import output

    created = intervene(runner, scored, top_player, "--type", "watchlist", "--analyst", "ana01",
                        "--reason", "Late-night chasing noticed by the team", "-f", "json")  # fmt: skip
    iid = json.loads(created.stdout)["intervention_id"]
    monkeypatch.delenv("COLUMNS")  # as in `sentinel interventions list | less`
    output.console.cache_clear()
    try:
        table = cli(runner, scored, "interventions", "list").stdout
    finally:
        output.console.cache_clear()
    # An analyst copies the id into `cancel`: Rich's 80 columns in a pipe cut it to "INT-1…".
    assert iid in table and top_player in table and "Late-night chasing" in table


def test_queue_order_filters_and_sla(runner, scored: Settings) -> None:
    result = cli(runner, scored, "queue", "--format", "json", "--limit", "1000")
    items = json.loads(result.stdout)["items"]
    assert items and all(i["risk_category"] in ("HIGH", "CRITICAL") for i in items)
    scores = [i["composite_risk_score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert all(i["sla_due_at"] and i["primary_driver"] for i in items)
    critical = json.loads(
        cli(
            runner, scored, "queue", "--category", "CRITICAL", "-f", "json", "--limit", "1000"
        ).stdout
    )["items"]
    assert 0 < len(critical) < len(items)
    state = items[0]["state"]
    by_state = json.loads(cli(runner, scored, "queue", "--state", state, "-f", "json").stdout)[
        "items"
    ]
    assert by_state and {i["state"] for i in by_state} == {state}
    assert (
        len(json.loads(cli(runner, scored, "queue", "--limit", "3", "-f", "json").stdout)["items"])
        == 3
    )
    assert cli(runner, scored, "queue", "--state", "massachusetts").exit_code == 2
    table = cli(runner, scored, "queue", "--limit", "5")
    assert "SLA due" in table.stdout and items[0]["player_id"] in table.stdout
    # issue #24: every column is labelled (the overdue / actioned column was headed "")
    header = next(line for line in table.stdout.splitlines() if "SLA due" in line)
    labels = [cell.strip() for cell in header.strip("┃ \n").split("┃")]
    assert "" not in labels and labels[-1] == "status"
    # the case filters: overdue only, and players whose open case carries a trigger
    shown = cli(runner, scored, "queue", "--overdue", "-f", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["items"] == []  # SLAs still ahead
    from datetime import timedelta

    from dk_sentinel.models import utcnow
    from dk_sentinel.usecases import Sentinel

    later = Sentinel(scored, clock=lambda: utcnow() + timedelta(days=2))  # every SLA has passed
    overdue = later.players.queue(overdue=True, limit=1000).items
    assert [i.player_id for i in overdue] == [i["player_id"] for i in items]
    assert all(i.is_overdue for i in overdue)
    assert json.loads(cli(runner, scored, "queue", "--trigger", "RISK-CRITICAL", "-f", "json")
                      .stdout)["items"] == []  # fmt: skip
    from dk_sentinel.interventions.cases import open_or_update
    from dk_sentinel.warehouse import connect

    with connect(scored) as wh:
        run_id, as_of = wh.query("select run_id, as_of from {ops}.scoring_runs")[0]
        open_or_update(wh, run_id, as_of, {"CRITICAL": 2, "HIGH": 24}, as_of)
    flagged = json.loads(cli(runner, scored, "queue", "--trigger", "RISK-CRITICAL", "-f", "json",
                             "--limit", "1000").stdout)["items"]  # fmt: skip
    assert [i["player_id"] for i in flagged] == [i["player_id"] for i in critical]


def test_timeout_without_duration_exits_2_and_writes_nothing(
    runner, scored: Settings, top_player: str
) -> None:
    result = intervene(
        runner,
        scored,
        top_player,
        "--type",
        "timeout",
        "--reason",
        "Chasing losses at 3am",
        "--analyst",
        "ana01",
    )
    assert result.exit_code == 2
    assert "duration_hours required for timeout interventions" in result.stderr
    with connect(scored) as wh:
        assert wh.query("select count(*) from {ops}.interventions")[0][0] == 0
        assert wh.query("select count(*) from {ops}.intervention_events")[0][0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--type", "nudge", "--duration", "5", "--reason", "A friendly reminder"],
            "duration_hours applies only to timeout",
        ),
        (
            ["--type", "timeout", "--duration", "200", "--reason", "A friendly reminder"],
            "duration_hours: Input should be less than or equal to 168",
        ),
        (
            ["--type", "watchlist", "--reason", "short"],
            "reason: String should have at least 10 characters",
        ),
        (
            ["--type", "watchlist", "--reason", "x" * 501],
            "reason: String should have at most 500 characters",
        ),
    ],
)
def test_intervention_validation(
    runner, scored: Settings, top_player: str, args: list[str], message: str
) -> None:
    result = intervene(runner, scored, top_player, *args, "--analyst", "ana01")
    assert result.exit_code == 2 and message in result.stderr


def test_analyst_is_required(
    runner, scored: Settings, top_player: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = intervene(
        runner, scored, top_player, "--type", "watchlist", "--reason", "Escalating stakes"
    )
    assert result.exit_code == 2 and "an analyst id is required" in result.stderr
    monkeypatch.setenv("SENTINEL_ANALYST", "ana_env")
    ok = intervene(
        runner,
        scored,
        top_player,
        "--type",
        "watchlist",
        "--reason",
        "Escalating stakes",
        "-f",
        "json",
    )
    assert ok.exit_code == 0 and json.loads(ok.stdout)["analyst_id"] == "ana_env"


def test_intervene_snapshot_supersede_idempotency_cancel(
    runner, scored: Settings, top_player: str
) -> None:
    analyze = json.loads(cli(runner, scored, "analyze", top_player, "-f", "json").stdout)
    first = intervene(runner, scored, top_player, "--type", "timeout", "--duration", "24",
                "--reason", "Chasing losses at 3am", "--analyst", "ana01", "-f", "json")  # fmt: skip
    assert first.exit_code == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["status"] == "active" and created["duration_hours"] == 24
    assert created["run_id"] == analyze["run_id"]
    assert created["composite_risk_score"] == analyze["composite_risk_score"]
    assert created["risk_category"] == analyze["risk_category"]
    second = intervene(runner, scored, top_player, "--type", "timeout", "--duration", "48",
                 "--reason", "Chasing losses at 3am", "--analyst", "ana01")  # fmt: skip
    assert (
        second.exit_code == 2
        and created["intervention_id"] in second.stderr
        and "--supersede" in second.stderr
    )
    third = intervene(runner, scored, top_player, "--type", "timeout", "--duration", "48", "--supersede",
                "--reason", "Longer cooling-off agreed", "--analyst", "ana01", "--idempotency-key", "k-1", "-f", "json")  # fmt: skip
    replacement = json.loads(third.stdout)
    again = intervene(runner, scored, top_player, "--type", "timeout", "--duration", "48", "--supersede",
                "--reason", "Longer cooling-off agreed", "--analyst", "ana01", "--idempotency-key", "k-1", "-f", "json")  # fmt: skip
    assert json.loads(again.stdout)["intervention_id"] == replacement["intervention_id"]
    listed = json.loads(
        cli(runner, scored, "interventions", "list", "--player", top_player, "-f", "json").stdout
    )
    assert {i["status"] for i in listed} == {"active", "superseded"} and len(listed) == 2
    active = json.loads(
        cli(runner, scored, "interventions", "list", "--active", "-f", "json").stdout
    )
    assert [i["intervention_id"] for i in active] == [replacement["intervention_id"]]
    queue = json.loads(cli(runner, scored, "queue", "--limit", "1000", "-f", "json").stdout)[
        "items"
    ]
    assert top_player not in [i["player_id"] for i in queue]  # actioned players leave the queue
    with_actioned = json.loads(
        cli(runner, scored, "queue", "--limit", "1000", "--include-actioned", "-f", "json").stdout
    )["items"]
    assert top_player in [i["player_id"] for i in with_actioned]
    cancel = cli(
        runner,
        scored,
        "interventions",
        "cancel",
        replacement["intervention_id"],
        "--reason",
        "Player called support, agreed plan",
        "--analyst",
        "lead01",
        "-f",
        "json",
    )
    cancelled = json.loads(cancel.stdout)
    assert cancelled["status"] == "cancelled"
    assert [e["event_type"] for e in cancelled["events"]] == ["created", "cancelled"]
    assert (
        cli(
            runner,
            scored,
            "interventions",
            "cancel",
            replacement["intervention_id"],
            "--reason",
            "Player called again today",
            "--analyst",
            "lead01",
        ).exit_code
        == 2
    )
    assert (
        cli(
            runner,
            scored,
            "interventions",
            "cancel",
            "INT-NOPE",
            "--reason",
            "Not a real intervention",
            "--analyst",
            "lead01",
        ).exit_code
        == 3
    )
    with connect(scored) as wh:  # nothing deleted
        assert wh.query("select count(*) from {ops}.interventions")[0][0] == 2
        events = [
            r[0]
            for r in wh.query(
                "select event_type from {ops}.intervention_events order by occurred_at, event_type"
            )
        ]
        assert sorted(events) == ["cancelled", "created", "created", "superseded"]
        outbox = {
            r["idempotency_key"]: r
            for r in (json.loads(row[0]) for row in wh.query("select payload from {ops}.outbox"))
        }
    # the platform hears that the replaced timeout ended, and what replaced it (issue #36)
    old_id, new_id = created["intervention_id"], replacement["intervention_id"]
    assert set(outbox) == {old_id, f"{old_id}:superseded", new_id, f"{new_id}:cancel"}
    ended = outbox[f"{old_id}:superseded"]
    assert ended["event"] == "intervention.superseded" and ended["superseded_by"] == new_id
    assert ended["cancelled_at"] is not None
    assert outbox[new_id]["supersedes"] == [old_id] and outbox[old_id]["supersedes"] == []


def test_nudge_stores_a_tone_checked_message(runner, scored: Settings, top_player: str) -> None:
    from dk_sentinel.analysis.explainer import tone_problems

    result = intervene(
        runner,
        scored,
        top_player,
        "--type",
        "nudge",
        "--reason",
        "Supportive check-in",
        "--analyst",
        "ana01",
        "-f",
        "json",
    )
    message = json.loads(result.stdout)["customer_message"]
    assert message and tone_problems(message, scored) == []


def test_text_round_trips_unchanged(runner, scored: Settings, top_player: str) -> None:
    reason = 'He said "I\'ll win it back"; DROP TABLE ops.interventions; -- ünïcødé ✓\nline two'
    analyst = "O'Neil-β"
    result = intervene(
        runner,
        scored,
        top_player,
        "--type",
        "watchlist",
        "--reason",
        reason,
        "--analyst",
        analyst,
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["reason"] == reason and created["analyst_id"] == analyst
    listed = json.loads(cli(runner, scored, "interventions", "list", "-f", "json").stdout)
    assert listed[0]["reason"] == reason


@pytest.mark.parametrize(
    "hidden", ["\x00", "\x1b[2J", "\u202e", "\u2066"], ids=["nul", "escape", "rlo", "lri"]
)
def test_a_reason_with_control_or_bidi_characters_is_refused(
    runner, scored: Settings, top_player: str, hidden: str
) -> None:
    """Issue #24: reasons kept NUL and bidi-override characters and printed them raw."""
    reason = f"Chasing losses {hidden}after midnight"
    result = intervene(runner, scored, top_player, "--type", "nudge", "--reason", reason,
                       "--analyst", "ana01")  # fmt: skip
    assert result.exit_code == 2
    assert "control or bidirectional-override characters" in result.stderr
    listed = json.loads(cli(runner, scored, "interventions", "list", "-f", "json").stdout)
    assert listed == []


def test_full_width_digits_are_not_a_player_id(runner, scored: Settings) -> None:
    """Issue #24: full-width digits passed the CLI/API check that ingest refuses."""
    result = cli(runner, scored, "analyze", "PLR_\uff11\uff12\uff13\uff14_MA")
    assert result.exit_code == 2 and "PLR_<4-6 digits>_<two-letter state>" in result.stderr
    listed = cli(runner, scored, "interventions", "list", "--player", "garbage")
    assert listed.exit_code == 2 and "not a valid player id" in listed.stderr


def test_intervene_unknown_player(runner, scored: Settings) -> None:
    result = intervene(
        runner,
        scored,
        "PLR_999999_MA",
        "--type",
        "watchlist",
        "--reason",
        "Escalating stakes",
        "--analyst",
        "ana01",
    )
    assert result.exit_code == 3


def test_exports(runner, scored: Settings, top_player: str, tmp_path: Path) -> None:
    intervene(
        runner,
        scored,
        top_player,
        "--type",
        "watchlist",
        "--reason",
        "Escalating stakes",
        "--analyst",
        "ana01",
    )
    assert cli(runner, scored, "export", "scores", "--out", str(tmp_path / "s.csv")).exit_code == 0
    with (tmp_path / "s.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1500 and {"composite_risk_score", "has_gamalyze", "run_id"} <= set(rows[0])
    cli(
        runner,
        scored,
        "export",
        "scores",
        "--category",
        "CRITICAL",
        "--out",
        str(tmp_path / "s.parquet"),
    )
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.num_rows > 0 and set(table.column("risk_category").to_pylist()) == {"CRITICAL"}
    out = cli(runner, scored, "export", "scores", "--out", "-")
    assert len(json.loads(out.stdout)) == 1500
    low = json.loads(cli(runner, scored, "export", "scores", "--category", "LOW", "-o", "-").stdout)
    expected = sum(r["risk_category"] == "LOW" for r in rows)
    assert len(low) == expected > 0 and {r["risk_category"] for r in low} == {"LOW"}
    cli(runner, scored, "export", "interventions", "--out", str(tmp_path / "i.json"))
    exported = json.loads((tmp_path / "i.json").read_text(encoding="utf-8"))
    assert (
        exported[0]["player_id"] == top_player
        and json.loads(exported[0]["events"])[0]["event_type"] == "created"
    )
    assert cli(runner, scored, "export", "scores", "--out", str(tmp_path / "s.xlsx")).exit_code == 2


def test_report(runner, scored: Settings, top_player: str) -> None:
    intervene(
        runner,
        scored,
        top_player,
        "--type",
        "referral",
        "--reason",
        "Referred to treatment services",
        "--analyst",
        "ana01",
    )
    data = json.loads(cli(runner, scored, "report", "-f", "json").stdout)
    assert sum(c["players"] for c in data["by_category"]) == 1500
    assert data["interventions_7d"] == {"referral": {"active": 1}}
    queue = json.loads(cli(runner, scored, "queue", "--limit", "100000", "-f", "json").stdout)
    assert data["queue_open"] == len(queue["items"]) > 0
    assert data["queue_sla_breaches"] == sum(i["is_overdue"] for i in queue["items"])
    assert sum(sum(v.values()) for v in data["by_state"].values()) == 1500
    assert "players by category" in cli(runner, scored, "report").stdout
    # Three days on, every open HIGH (24 h) and CRITICAL (2 h) player is past the SLA.
    from dk_sentinel.analysis.reporting import report
    from dk_sentinel.models import utcnow

    with connect(scored) as wh:
        later = report(wh, now=utcnow() + timedelta(days=3))
    assert later.queue_sla_breaches == later.queue_open == data["queue_open"]


def test_the_money_evidence_counts_in_the_right_number() -> None:
    """The money sentence names each marker with its count, one deposit and two deposits."""
    from dk_sentinel.analysis.evidence import money_sentence
    from dk_sentinel.config import load_settings

    settings = load_settings(overrides={"warehouse.duckdb.path": "unused.duckdb"})
    row = {
        "money_behaviour": 0.4, "money_recent_deposits": 1, "money_expected_deposits": 0.5,
        "money_recent_deposits_after_loss": 1, "money_baseline_deposits_after_loss": 0,
        "money_recent_limit_raises": 2, "money_baseline_limit_raises": 1,
        "money_recent_protective_acts": 1,
    }  # fmt: skip
    sentence = money_sentence(row, settings)
    assert sentence.startswith("1 deposit in the last 14 days (expected 0.5")
    assert "; 1 protective act (limit set or lowered, timeout): protective acts never" in sentence
    assert "1 deposit within 60 min after a lost bet settled in the last 14 days, 0 before" in (
        sentence
    )
    assert "2 deposit limit raises in the last 14 days, 1 before" in sentence
    assert money_sentence({"money_behaviour": None}, settings).startswith("absent: scored before")


def test_export_scores_history_writes_every_kept_run(
    runner, replayed: Settings, tmp_path: Path
) -> None:
    """Issue #39: every kept run's rows (run id, kind, as-of, player, composite, category), so
    anyone can recompute a lead-time curve; the latest-only export is unchanged."""
    out = tmp_path / "history.csv"
    result = cli(runner, replayed, "export", "scores", "--history", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {
        "run_id", "run_kind", "as_of", "player_id", "composite_risk_score", "risk_category"
    }  # fmt: skip
    with connect(replayed) as wh:
        kept = wh.query(
            "select count(*), count(distinct r.run_id) from {analytics}.rg_risk_scores r "
            "join {ops}.scoring_runs s on s.run_id = r.run_id where s.status = 'success'"
        )[0]
    assert len(rows) == kept[0] and len({r["run_id"] for r in rows}) == kept[1] == 2
    assert {r["run_kind"] for r in rows} == {"live", "replay"}
    assert [r["as_of"] for r in rows] == sorted(r["as_of"] for r in rows)  # oldest first
    wrong = cli(runner, replayed, "export", "interventions", "--history", "--out", "-")
    assert wrong.exit_code == 2  # not an option of interventions
