"""``sentinel demo``: a fresh embedded warehouse with synthetic data, scored, in one call."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from dk_sentinel.config import Settings
from dk_sentinel.errors import UsageError
from dk_sentinel.models import BatchRun, Queue, RiskAssessment


class DemoResult(BaseModel):
    """Everything the demo made."""

    directory: str
    warehouse: str
    bets: int
    players: int
    run: BatchRun
    queue: Queue
    top_player: RiskAssessment | None


def run_demo(
    settings: Settings,
    directory: Path,
    *,
    players: int = 2000,
    days: int = 90,
    seed: int = 7,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate, ingest and score synthetic data in a new embedded warehouse in ``directory``.

    Args:
        settings: Base settings; the warehouse is replaced by ``directory/sentinel.duckdb``.
        directory: Where the demo lives (data files and warehouse).
        players: Synthetic players.
        days: Days of history.
        seed: Random seed.
        force: Replace an existing demo warehouse.
        progress: Called with a status line at each step.

    Returns:
        The run, the queue and the top player's assessment.

    Raises:
        UsageError: A warehouse already exists there and ``force`` was not given.
    """
    from dk_sentinel.analysis import assess, build_queue
    from dk_sentinel.explainer import apply, explain_cached, make_explainer
    from dk_sentinel.ingest import ingest
    from dk_sentinel.scoring import score_batch
    from dk_sentinel.synth import generate
    from dk_sentinel.warehouse import connect
    from dk_sentinel.warehouse.schema import bootstrap

    say = progress or (lambda _msg: None)
    db = directory / "sentinel.duckdb"
    if db.exists() and not force:
        raise UsageError(
            f"{db} already exists; the demo never touches an existing warehouse",
            "Pass --force to replace it, or --dir to use another folder.",
        )
    if force:
        db.unlink(missing_ok=True)
        db.with_name(db.name + ".wal").unlink(missing_ok=True)
        shutil.rmtree(directory / "data", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    demo_settings = settings.model_copy(deep=True)
    demo_settings.warehouse.backend = "duckdb"
    demo_settings.warehouse.duckdb.path = db
    as_of = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    say(f"generating {players:,} players x {days} days")
    generated = generate(directory / "data", players, days, seed, as_of)
    say("loading")
    with connect(demo_settings) as wh:
        bootstrap(wh)
        for kind in ("bets", "assessments", "outcomes"):
            ingest(wh, kind, [generated.files[kind]])
    say("scoring with dbt")
    run = score_batch(demo_settings, as_of=as_of)
    say("reading the queue")
    with connect(demo_settings) as wh:
        queue = build_queue(wh, demo_settings, min_category="HIGH", limit=10)
        top = None
        if queue.items:
            top = assess(wh, demo_settings, queue.items[0].player_id, with_history=True)
            apply(top, explain_cached(wh, make_explainer(demo_settings), top))
    return DemoResult(
        directory=str(directory),
        warehouse=str(db),
        bets=generated.bets,
        players=players,
        run=run,
        queue=queue,
        top_player=top,
    )
