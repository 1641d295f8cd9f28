from datetime import datetime
from pathlib import Path

import duckdb

from conftest import invoke
from dk_sentinel.synth import RISK_ARCHETYPES, generate, generate_frames


def test_deterministic_for_a_seed() -> None:
    a = generate_frames(60, 30, seed=5, as_of=datetime(2026, 5, 1))
    b = generate_frames(60, 30, seed=5, as_of=datetime(2026, 5, 1))
    c = generate_frames(60, 30, seed=6, as_of=datetime(2026, 5, 1))
    assert a["bets"].equals(b["bets"]) and a["labels"].equals(b["labels"])
    assert not a["bets"].equals(c["bets"])


def test_realistic_settlement_and_margin(tmp_path: Path) -> None:
    gen = generate(tmp_path, players=300, days=60, seed=2, as_of=datetime(2026, 5, 1))
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
    assert {a for a, _ in labels} >= RISK_ARCHETYPES | {"recreational", "high_stakes_stable"}


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
