"""``sentinel doctor``: is this installation ready to score?"""

from __future__ import annotations

from datetime import datetime, timedelta

from dk_sentinel.config import Settings, secret
from dk_sentinel.errors import SentinelError
from dk_sentinel.models import Document, utcnow
from dk_sentinel.warehouse import Connections, Warehouse
from dk_sentinel.warehouse.schema import SCHEMA_VERSION, check


class Check(Document):
    """One health check."""

    name: str
    ok: bool
    required: bool
    detail: str


class DoctorReport(Document):
    """All checks; ``ok`` is False when a required check failed."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when every required check passed."""
        return all(c.ok for c in self.checks if c.required)


def run_doctor(
    settings: Settings,
    connections: Connections,
    *,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> DoctorReport:
    """Check config, warehouse, schema, dbt project and the Anthropic key.

    Args:
        settings: Loaded (hence valid) settings.
        connections: Where the warehouse connection comes from.
        max_age: Also require a successful live run finished within this long (the cron
            monitor's check: `sentinel doctor --max-age 2h`).
        now: The time ``max_age`` is measured from.

    Returns:
        The report; the caller decides the exit code from ``report.ok``.
    """
    checks = [Check(name="config", ok=True, required=True, detail="valid")]
    if settings.warehouse.backend == "snowflake":
        from dk_sentinel.warehouse.snowflake import sign_in

        try:
            mode, unattended, detail = sign_in(settings.warehouse)
            checks.append(Check(name="sign-in", ok=unattended, required=False,
                                detail=f"{mode}: {detail}"))  # fmt: skip
        except SentinelError as exc:
            checks.append(Check(name="sign-in", ok=False, required=True, detail=exc.message))
    try:
        with connections.connect() as wh:
            checks.append(
                Check(name="warehouse", ok=True, required=True, detail=f"{wh.backend} reachable")
            )
            status = check(wh)
            current = not status.applied
            detail = (
                f"version {status.version_before} (current)"
                if current
                else f"version {status.version_before}, needs {SCHEMA_VERSION}: run `sentinel init`"
            )
            checks.append(Check(name="schema", ok=current, required=True, detail=detail))
            if max_age is not None and current:
                checks.append(_freshness(wh, max_age, now or utcnow()))
    except SentinelError as exc:
        checks.append(Check(name="warehouse", ok=False, required=True, detail=exc.message))
    from dk_sentinel.scoring.dbt import parse_project

    try:
        detail = parse_project(settings)
        checks.append(Check(name="dbt project", ok=True, required=True, detail=detail))
    except SentinelError as exc:
        checks.append(Check(name="dbt project", ok=False, required=True, detail=exc.message))
    from dk_sentinel.jurisdictions import selected_packs

    try:  # a broken pack stops every score-batch: say so here first
        packs = selected_packs(settings)
        detail = ", ".join(f"{state}: {p.pack} {p.version}" for state, p in packs.items())
        checks.append(Check(name="trigger packs", ok=True, required=True, detail=detail))
    except SentinelError as exc:
        checks.append(Check(name="trigger packs", ok=False, required=True, detail=exc.message))
    has_key = secret("anthropic_api_key") is not None
    checks.append(
        Check(
            name="anthropic key",
            ok=has_key or not settings.ai.enabled,
            required=False,
            detail="ANTHROPIC_API_KEY set"
            if has_key
            else "ANTHROPIC_API_KEY not set: explanations use the rules fallback",
        )
    )
    return DoctorReport(checks=checks)


def _freshness(wh: Warehouse, max_age: timedelta, now: datetime) -> Check:
    """Whether the last successful live scoring run finished within ``max_age``."""
    from dk_sentinel.scoring import last_successful_run

    run = last_successful_run(wh)
    if run is None or run.finished_at is None:
        detail = "no successful scoring run yet: run `sentinel score-batch`"
        return Check(name="last run", ok=False, required=True, detail=detail)
    age = now - run.finished_at
    hours = age.total_seconds() / 3600
    limit = max_age.total_seconds() / 3600
    detail = f"{run.run_id} finished {hours:.1f} h ago (limit {limit:g} h)"
    return Check(name="last run", ok=age <= max_age, required=True, detail=detail)


def parse_age(text: str) -> timedelta:
    """``30m``, ``2h`` or ``1d`` as a duration.

    Raises:
        ValueError: Another shape.
    """
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhd])\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h or 1d")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})
