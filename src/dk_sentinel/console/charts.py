"""The player's score history as an inline SVG, laid out on the server (no script, no library).

The composite and the five components over the runs of the last 90 days on one 0-1 scale,
with the category cut-offs as guides and each intervention and recorded outcome marked at its
time. The template draws what :func:`history_chart` computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dk_sentinel.models import HistoryPoint, Intervention, PlayerOutcome
from dk_sentinel.vocabulary import COMPONENTS

WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Series:
    """One line: its name, its CSS class, its points ("x,y x,y ...") and a dot per run."""

    name: str
    css: str
    points: str
    dots: list[tuple[float, float]]
    last: float | None


@dataclass(frozen=True)
class Marker:
    """A vertical mark at a moment (an intervention or an outcome)."""

    x: float
    kind: str  # "intervention" or "outcome"
    label: str


@dataclass(frozen=True)
class Guide:
    """A horizontal line at a value (a category cut-off) or a tick."""

    y: float
    label: str


@dataclass
class Chart:
    """What the template draws."""

    width: int = WIDTH
    height: int = HEIGHT
    series: list[Series] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    guides: list[Guide] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    empty: bool = True


def history_chart(
    points: list[HistoryPoint],
    interventions: list[Intervention],
    outcomes: list[PlayerOutcome],
    cutoffs: dict[str, float],
) -> Chart:
    """Lay out the history chart.

    Args:
        points: The history, oldest first.
        interventions: The player's interventions (marked when inside the period).
        outcomes: The player's recorded outcomes (marked when inside the period).
        cutoffs: Category name -> lowest composite of that category (drawn as guides).

    Returns:
        The chart (``empty`` when there is no point to draw).
    """
    chart = Chart()
    if not points:
        return chart
    start, end = points[0].as_of, points[-1].as_of
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(at: datetime) -> float:
        if len(points) == 1:
            return _LEFT + plot_w / 2
        return round(_LEFT + plot_w * (at - start).total_seconds() / span, 1)

    def y(value: float) -> float:
        return round(_TOP + plot_h * (1.0 - min(max(value, 0.0), 1.0)), 1)

    for name in ("composite_risk_score", *COMPONENTS):
        values = [(p.as_of, getattr(p, name)) for p in points]
        drawn = [(at, v) for at, v in values if v is not None]
        if not drawn:
            continue
        chart.series.append(
            Series(
                name="composite" if name == "composite_risk_score" else name,
                css=name.replace("_", "-"),
                points=" ".join(f"{x(at)},{y(float(v))}" for at, v in drawn),
                dots=[(x(at), y(float(v))) for at, v in drawn],
                last=round(float(drawn[-1][1]), 3),
            )
        )
    chart.guides = [Guide(y(v), f"{name} {v:.2f}") for name, v in cutoffs.items()]
    for item in interventions:
        if start <= item.created_at <= end:
            chart.markers.append(Marker(x(item.created_at), "intervention", item.intervention_type))
    for outcome in outcomes:
        if start <= outcome.event_at <= end:
            chart.markers.append(Marker(x(outcome.event_at), "outcome", outcome.event_type))
    if len(points) == 1:
        chart.x_labels = [(x(start), f"{start:%b %d}")]
    else:
        moments = [start + (end - start) * i / 4 for i in range(5)]
        chart.x_labels = [(x(at), f"{at:%b %d}") for at in moments]
    chart.empty = False
    return chart
