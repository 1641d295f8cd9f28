"""``sentinel doctor``: is this installation ready to score?"""

from __future__ import annotations

from dk_sentinel.config import Settings, secret
from dk_sentinel.errors import SentinelError
from dk_sentinel.models import Document
from dk_sentinel.warehouse import Connections
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


def run_doctor(settings: Settings, connections: Connections) -> DoctorReport:
    """Check config, warehouse, schema, dbt project and the Anthropic key.

    Args:
        settings: Loaded (hence valid) settings.
        connections: Where the warehouse connection comes from.

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
