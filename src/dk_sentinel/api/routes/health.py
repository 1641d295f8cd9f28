"""``/health`` (liveness, no key) and ``/health/ready`` (the warehouse answers)."""

from __future__ import annotations

from fastapi import APIRouter

from dk_sentinel import __version__
from dk_sentinel.api.schemas import Health, ServerHealth
from dk_sentinel.web.deps import App, Runtime
from dk_sentinel.web.problems import responses

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: Runtime) -> ServerHealth:
    """Liveness: no auth, no warehouse; the scheduler's state when it runs."""
    return ServerHealth(status="ok", version=__version__, timestamp=runtime.app.clock(),
                        schedule=runtime.schedule)  # fmt: skip


@router.get("/health/ready", responses=responses(503))
def ready(app: App) -> Health:
    """Readiness: the warehouse is reachable and its schema current (else 503)."""
    app.system.readiness()
    return Health(status="ready", version=__version__, timestamp=app.clock())
