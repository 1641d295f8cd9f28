"""Trigger cases on generated books: `python bench/cases_quality.py`.

For each seed and scenario, generates a book of every family at 3 % at risk (payments and
account events for every player), loads and scores it exactly as a user would (`ingest`,
`score-batch`), and counts the players with a case opened by a jurisdiction trigger (cases
opened only by RISK-* aside) among those not at risk and those at risk, with the share of
each trigger code. The tournament scenario puts a shared event in the last two weeks (a
quarter of the book bets twice as often on its sport); the holiday a four-day spike.

    python bench/cases_quality.py [--players 5000] [--seeds 3 4 5]
        [--scenarios ordinary holiday tournament]

Issue #36's target: at most 1 % of the not-at-risk players with a trigger case.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _util import save


def run_one(folder: Path, players: int, seed: int, scenario: str) -> dict[str, Any]:
    """Generate, load, score and count the trigger cases of one book."""
    from dk_sentinel.config import load_settings
    from dk_sentinel.synthetic.generator import generate
    from dk_sentinel.usecases import Sentinel

    as_of = datetime(2026, 11, 1)
    gen = generate(
        folder / "data", players, 90, seed, as_of, families="all", prevalence=0.03,
        holiday=scenario == "holiday", tournament=scenario == "tournament",
    )  # fmt: skip
    settings = load_settings(overrides={"warehouse.duckdb.path": folder / "w.duckdb"})
    app = Sentinel(settings, clock=lambda: as_of + timedelta(minutes=30))
    app.system.initialise()
    for kind in ("bets", "assessments", "payments", "account_events"):
        app.data.load(kind, [gen.files[kind]])  # type: ignore[arg-type]
    assert app.scoring.run(as_of=as_of).status == "success"
    with open(gen.files["labels"], encoding="utf-8") as handle:
        risk = {
            r["player_id"]: r["is_risk"] in ("True", "true", "1") for r in csv.DictReader(handle)
        }
    cases = app.cases.find()
    by_trigger: Counter[str] = Counter()
    with_trigger = {False: set(), True: set()}  # type: dict[bool, set[str]]
    for case in cases:
        codes = [t for t in case.triggers if not t.startswith("RISK-")]
        if codes and case.player_id in risk:
            with_trigger[risk[case.player_id]].add(case.player_id)
            if not risk[case.player_id]:
                by_trigger.update(codes)
    healthy = sum(1 for r in risk.values() if not r)
    at_risk = len(risk) - healthy
    return {
        "players": len(risk),
        "not_at_risk": healthy,
        "not_at_risk_with_trigger_case": len(with_trigger[False]),
        "share_not_at_risk_with_trigger_case": len(with_trigger[False]) / max(healthy, 1),
        "at_risk_with_trigger_case": len(with_trigger[True]),
        "share_at_risk_with_trigger_case": len(with_trigger[True]) / max(at_risk, 1),
        "not_at_risk_codes": dict(by_trigger.most_common()),
        "cases": len(cases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--players", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--scenarios", nargs="+", default=["ordinary", "holiday", "tournament"],
                        choices=["ordinary", "holiday", "tournament"])  # fmt: skip
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sentinel-cases-"))
    os.environ["XDG_CACHE_HOME"] = str(root / ".cache")
    runs = []
    for scenario in args.scenarios:
        for seed in args.seeds:
            result = run_one(root / f"{scenario}-{seed}", args.players, seed, scenario)
            runs.append({"seed": seed, "scenario": scenario, **result})
            print(
                f"seed {seed} {scenario:<10} not at risk with a trigger case "
                f"{result['not_at_risk_with_trigger_case']}/{result['not_at_risk']} "
                f"({result['share_not_at_risk_with_trigger_case']:.2%}); at risk "
                f"{result['at_risk_with_trigger_case']} "
                f"({result['share_at_risk_with_trigger_case']:.1%}); codes "
                f"{result['not_at_risk_codes']}"
            )
    save(f"cases_quality_{args.players}", {
        "command": "python bench/cases_quality.py --players {} --seeds {} --scenarios {}".format(
            args.players, " ".join(map(str, args.seeds)), " ".join(args.scenarios)),
        "runs": runs,
    }, echo=False)  # fmt: skip


if __name__ == "__main__":
    main()
