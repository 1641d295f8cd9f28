"""Exports (scores, interventions) and the compliance report."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from dk_sentinel.analysis import build_queue
from dk_sentinel.errors import RelationMissing, UsageError
from dk_sentinel.interventions import events, list_interventions
from dk_sentinel.models import CATEGORIES, utcnow
from dk_sentinel.scoring import PUBLISHED_RUNS
from dk_sentinel.warehouse import Warehouse

ExportKind = Literal["scores", "interventions"]


class ExportResult(BaseModel):
    """What an export wrote."""

    kind: str
    rows: int
    path: str
    format: str
    records: list[dict[str, Any]] | None = Field(
        default=None, description="The rows, when they go to stdout (out '-')", exclude=True
    )


def _rows(wh: Warehouse, kind: ExportKind, category: str | None) -> list[dict[str, Any]]:
    if kind == "scores":
        try:
            return wh.query_dicts(
                "select * from {analytics}.rg_latest_risk_scores "
                "where (cast(? as varchar) is null or risk_category = ?) "
                "order by composite_risk_score desc, player_id",
                [category, category],
            )
        except RelationMissing:  # initialised but never scored: nothing to export yet
            return []

    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in events(wh):
        by_id.setdefault(event.intervention_id, []).append(event.model_dump(mode="json"))
    return [
        {
            **i.model_dump(mode="json", exclude={"events"}),
            "events": json.dumps(by_id.get(i.intervention_id, [])),
        }
        for i in list_interventions(wh)
    ]


def export(
    wh: Warehouse, kind: ExportKind, out: str, *, category: str | None = None
) -> ExportResult:
    """Write the latest scores (or all interventions with their audit events) to a file.

    The format follows the extension (.csv, .parquet, .json); for ``-`` nothing is written
    and the rows are returned in ``records`` for the caller to print. Files are written
    atomically (a temporary file renamed into place).

    Args:
        wh: An open warehouse.
        kind: ``scores`` or ``interventions``.
        out: The output path, or ``-``.
        category: Scores only: just this category.

    Returns:
        Rows written and where.

    Raises:
        UsageError: Unknown extension.
    """
    rows = _rows(wh, kind, category)
    if out == "-":
        return ExportResult(kind=kind, rows=len(rows), path="-", format="json", records=rows)
    path = Path(out)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("csv", "parquet", "json"):
        raise UsageError(
            f"cannot export to {path.name}", "Use a .csv, .parquet or .json file, or - for stdout."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "json":
        tmp.write_text(json.dumps(rows, default=str, indent=2), encoding="utf-8")
    elif fmt == "csv":
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["player_id"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = (
            pa.Table.from_pylist(rows)
            if rows
            else pa.table({"player_id": pa.array([], pa.string())})
        )
        pq.write_table(table, tmp)
    tmp.replace(path)
    return ExportResult(kind=kind, rows=len(rows), path=str(path), format=fmt)


class CategoryCount(BaseModel):
    """Players per category, now and at the previous run."""

    risk_category: str
    players: int
    previous_run_players: int | None


class Report(BaseModel):
    """The compliance report."""

    generated_at: datetime
    run_id: str | None
    previous_run_id: str | None
    by_category: list[CategoryCount]
    by_state: dict[str, dict[str, int]]
    interventions_7d: dict[str, dict[str, int]]
    interventions_30d: dict[str, dict[str, int]]
    queue_sla_breaches: int
    queue_open: int


def report(wh: Warehouse, *, now: datetime | None = None) -> Report:
    """Players by category and state, change since the previous run, interventions, SLA breaches.

    Args:
        wh: An open warehouse.
        now: Reference time.

    Returns:
        The report.
    """
    now = now or utcnow()
    runs = [r[0] for r in wh.query(
        f"select run_id from {{ops}}.scoring_runs where {PUBLISHED_RUNS} "
        "order by finished_at desc limit 2"
    )]  # fmt: skip
    current, previous = [*runs, None, None][:2]
    counts: dict[str | None, dict[str, int]] = {}
    by_state: dict[str, dict[str, int]] = {}
    if current:
        for run_id in (current, previous):
            if run_id is None:
                continue
            rows = wh.query(
                "select risk_category, state, count(*) from {analytics}.rg_risk_scores "
                "where run_id = ? group by 1, 2",
                [run_id],
            )
            for category, state, n in rows:
                counts.setdefault(run_id, {}).setdefault(category, 0)
                counts[run_id][category] += int(n)
                if run_id == current:
                    by_state.setdefault(state, {})[category] = int(n)
    by_category = [
        CategoryCount(
            risk_category=c,
            players=counts.get(current, {}).get(c, 0),
            previous_run_players=counts.get(previous, {}).get(c, 0) if previous else None,
        )
        for c in CATEGORIES
    ]

    def tally(days: int) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for item in list_interventions(wh, since=now - timedelta(days=days), now=now):
            row = table.setdefault(item.intervention_type, {})
            row[item.status] = row.get(item.status, 0) + 1
        return table

    queue = build_queue(wh, min_category="HIGH", limit=1_000_000, now=now)
    return Report(
        generated_at=now,
        run_id=current,
        previous_run_id=previous,
        by_category=by_category,
        by_state=dict(sorted(by_state.items())),
        interventions_7d=tally(7),
        interventions_30d=tally(30),
        queue_sla_breaches=sum(1 for i in queue.items if i.is_overdue),
        queue_open=len(queue.items),
    )
