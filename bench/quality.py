"""Detection quality on generated data: `python bench/quality.py [--players 5000] [--seed 3]`.

Generates players with known archetypes, ingests and scores them on a fresh embedded
warehouse, then compares the published scores with labels.csv (which scoring never reads):
ROC AUC of risk archetypes vs everyone else, share of each archetype at HIGH or above, and
how often the largest component is the one the archetype should drive.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--players", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sentinel-quality-"))
    os.environ["XDG_CACHE_HOME"] = str(folder / ".cache")
    from dk_sentinel.config import load_settings
    from dk_sentinel.evaluation import evaluate
    from dk_sentinel.ingest import ingest
    from dk_sentinel.scoring import score_batch
    from dk_sentinel.synth import generate
    from dk_sentinel.warehouse import connect
    from dk_sentinel.warehouse.schema import bootstrap

    as_of = datetime(2026, 11, 1)
    gen = generate(folder / "data", args.players, 90, args.seed, as_of)
    settings = load_settings(overrides={"warehouse.duckdb.path": folder / "w.duckdb"})
    with connect(settings) as wh:
        bootstrap(wh)
        for kind in ("bets", "assessments"):
            ingest(wh, kind, [gen.files[kind]])  # type: ignore[arg-type]
    score_batch(settings, as_of=as_of)
    with connect(settings) as wh:
        report = evaluate(wh, Path(gen.files["labels"]))
    save(f"quality_{args.players}_seed{args.seed}", {
        "command": f"python bench/quality.py --players {args.players} --seed {args.seed}",
        **report.model_dump(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
