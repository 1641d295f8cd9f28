"""Closing the loop: backtest and calibrate (outcomes teach the scores)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, category_text, emit, progress

HorizonOpt = Annotated[
    int | None,
    typer.Option(
        "--horizon-days", min=1, max=365, help="Label window after each as-of (default: config)."
    ),
]
ReplayOpt = Annotated[
    int | None,
    typer.Option(
        "--replay",
        min=1,
        metavar="DAYS",
        help="First score past as-ofs every DAYS days back (replay runs, never 'latest').",
    ),
]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_backtest(r: Any) -> list[Any]:
    """The Rich view of a backtest."""
    from rich.table import Table
    from rich.text import Text

    head = Table("measure", "value", title=f"backtest: outcome within {r.horizon_days} days")
    high = f"{_pct(r.recall_high_plus)} / {_pct(r.precision_high_plus)}"
    crit = f"{_pct(r.recall_critical)} / {_pct(r.precision_critical)}"
    lead = f"{_num(r.lead_time_days_median, 1)} days ({r.lead_time_players} players)"
    for label, value in [
        ("runs evaluated (label window observed)", f"{r.runs} (+{r.runs_unobserved} too recent)"),
        ("players / rows / positive rows", f"{r.players:,} / {r.rows:,} / {r.positives:,}"),
        ("left out: outcome before the as-of", f"{r.excluded_prior_outcome:,}"),
        ("ROC AUC (composite)", _num(r.auc)),
        (f"precision among each run's top {r.capacity}", _pct(r.precision_at_capacity)),
        ("recall / precision at HIGH+", high),
        ("recall / precision at CRITICAL", crit),
        ("median lead time, first HIGH+ -> outcome", lead),
        ("precision at the book's own base rate", _pct(r.lead_time.precision_at_base_rate)),
    ]:  # fmt: skip
        head.add_row(label, value)
    curve = Table("outcomes flagged at least", "by HIGH+", f"in a run's top {r.capacity}",
                  title=f"lead time ({r.lead_time.high_plus.outcomes:,} outcomes)")  # fmt: skip
    for high, top in zip(r.lead_time.high_plus.points, r.lead_time.top_of_queue.points,
                         strict=True):  # fmt: skip
        curve.add_row(f"{high.days} days ahead", _pct(high.share), _pct(top.share))
    comps = Table("component", "AUC", title="each component alone")
    for name, auc in r.components.items():
        comps.add_row(name, _num(auc))
    cats = Table("category", "rows", "positives", "outcome rate", title="by category")
    for c in r.by_category:
        cats.add_row(category_text(c.risk_category), f"{c.rows:,}", f"{c.positives:,}",
                     _pct(c.outcome_rate))  # fmt: skip
    deciles = Table("decile", "composite", "rows", "outcome rate", title="by composite decile")
    for d in r.by_decile:
        deciles.add_row(str(d.decile), f"{d.min_score:.3f}-{d.max_score:.3f}", f"{d.rows:,}",
                        _pct(d.outcome_rate))  # fmt: skip
    note = Text("Observational: a score is compared with what followed it, nothing more.")
    return [head, curve, comps, cats, deciles, note]


def backtest(
    ctx: typer.Context,
    horizon_days: HorizonOpt = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only runs as of this day or later.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--until", help="Only runs as of this day or earlier.")
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option("--capacity", min=1, help="Analyst capacity N (default: config)."),
    ] = None,
    replay: ReplayOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Measure past scores against later self-exclusions, closures and other harmful outcomes."""
    with progress("backtest") as say:
        result = state(ctx).app.outcomes.backtest(
            horizon_days=horizon_days,
            since=since.date() if since else None, until=until.date() if until else None,
            capacity=capacity, replay_days=replay, progress=say,
        )  # fmt: skip
    emit(result, fmt, render_backtest)


def render_calibration(r: Any) -> list[Any]:
    """The Rich view of a calibration."""
    from rich.table import Table
    from rich.text import Text

    head = Table("measure", "calibrated", "composite", title=f"profile {r.profile_version}")
    head.add_row(f"CV AUC ({r.folds} folds by player)", _num(r.cv_auc), _num(r.cv_auc_composite))
    head.add_row("forward AUC (latest run)", _num(r.forward_auc), _num(r.forward_auc_composite))
    boosting = _num(r.cv_auc_gradient_boosting)
    if r.gradient_boosting_clear_win:
        boosting += " (a clear win; the profile stays the auditable logistic one)"
    head.add_row("CV AUC, gradient boosting (compared, not applied)", boosting, "-")
    head.add_row("Brier score", _num(r.brier, 4), "-")
    head.add_row("rows / positives / players", f"{r.rows:,} / {r.positives:,} / {r.players:,}", "")
    coefs = Table("feature", "transform", "coef (per SD)", "odds ratio", "constraint",
                  title="coefficients")  # fmt: skip
    for c in r.coefficients:
        coefs.add_row(c.feature, c.transform, "dropped" if c.dropped else f"{c.coefficient:+.3f}",
                      f"{c.odds_ratio_per_sd:.2f}", c.constraint)  # fmt: skip
    rel = Table("bin", "rows", "predicted", "observed", title="reliability (out of fold)")
    for b in r.reliability:
        rel.add_row(str(b.bin), f"{b.rows:,}", _pct(b.mean_predicted), _pct(b.observed_rate))
    state_line = (
        "Applied: the next score-batch adds risk_probability."
        if r.applied
        else "Stored, not applied: rerun with --apply to use it."
    )
    return [head, coefs, rel, Text(state_line)]


def calibrate(
    ctx: typer.Context,
    horizon_days: HorizonOpt = None,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20, help="CV folds.")] = 5,
    apply: Annotated[
        bool, typer.Option("--apply", help="Activate the profile for the next score-batch.")
    ] = False,
    replay: ReplayOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Learn a versioned scoring profile (outcome probability) from the operator's outcomes."""
    with progress("calibrate") as say:
        result = state(ctx).app.outcomes.calibrate(
            horizon_days=horizon_days, folds=folds, apply=apply,
            replay_days=replay, progress=say,
        )  # fmt: skip
    emit(result, fmt, render_calibration)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.command()(backtest)
    app.command()(calibrate)
