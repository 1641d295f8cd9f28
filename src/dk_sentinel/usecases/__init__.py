"""The use-case layer: the application object and the server's runtime.

The front ends (``cli``; ``api`` and ``console``, with ``web`` and ``server``) import only this
package, ``models``, ``errors`` and ``config`` (an import contract). The result types a front
end renders are re-exported here, so a front end never reaches into a capability for a name.

The names load on first use (PEP 562): a quick command such as ``analyze`` imports the
use cases it runs, not every capability whose result type a front end may render.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dk_sentinel.analysis.regulator import RegulatorReport
    from dk_sentinel.analysis.reporting import ExportKind, ExportResult, InterventionReport, Report
    from dk_sentinel.apikeys import SESSION_PREFIX, ApiKey, NewApiKey
    from dk_sentinel.doctor import DoctorReport
    from dk_sentinel.ingest import IngestResult, Kind
    from dk_sentinel.interventions.cases import Case
    from dk_sentinel.interventions.delivery import DeliveryReport
    from dk_sentinel.outcomes.backtest import BacktestReport
    from dk_sentinel.outcomes.calibration import CalibrationReport
    from dk_sentinel.scoring.scheduler import ScheduleStatus
    from dk_sentinel.usecases.app import Sentinel
    from dk_sentinel.usecases.data import Data
    from dk_sentinel.usecases.players import PlayerFile
    from dk_sentinel.usecases.server import RunStarted, ServerRuntime, check_serving
    from dk_sentinel.usecases.system import DemoResult
    from dk_sentinel.vocabulary import CaseState, ContactResult
    from dk_sentinel.warehouse import require_existing

#: Where each name lives.
_HOMES = {
    "RegulatorReport": "dk_sentinel.analysis.regulator",
    "ExportKind": "dk_sentinel.analysis.reporting",
    "ExportResult": "dk_sentinel.analysis.reporting",
    "InterventionReport": "dk_sentinel.analysis.reporting",
    "Report": "dk_sentinel.analysis.reporting",
    "SESSION_PREFIX": "dk_sentinel.apikeys",
    "ApiKey": "dk_sentinel.apikeys",
    "NewApiKey": "dk_sentinel.apikeys",
    "DoctorReport": "dk_sentinel.doctor",
    "IngestResult": "dk_sentinel.ingest",
    "Kind": "dk_sentinel.ingest",
    "Case": "dk_sentinel.interventions.cases",
    "DeliveryReport": "dk_sentinel.interventions.delivery",
    "BacktestReport": "dk_sentinel.outcomes.backtest",
    "CalibrationReport": "dk_sentinel.outcomes.calibration",
    "ScheduleStatus": "dk_sentinel.scoring.scheduler",
    "Sentinel": "dk_sentinel.usecases.app",
    "Data": "dk_sentinel.usecases.data",
    "PlayerFile": "dk_sentinel.usecases.players",
    "RunStarted": "dk_sentinel.usecases.server",
    "ServerRuntime": "dk_sentinel.usecases.server",
    "check_serving": "dk_sentinel.usecases.server",
    "DemoResult": "dk_sentinel.usecases.system",
    "CaseState": "dk_sentinel.vocabulary",
    "ContactResult": "dk_sentinel.vocabulary",
    "require_existing": "dk_sentinel.warehouse",
}

__all__ = [
    "SESSION_PREFIX",
    "ApiKey",
    "BacktestReport",
    "CalibrationReport",
    "Case",
    "CaseState",
    "ContactResult",
    "Data",
    "DeliveryReport",
    "DemoResult",
    "DoctorReport",
    "ExportKind",
    "ExportResult",
    "IngestResult",
    "InterventionReport",
    "Kind",
    "NewApiKey",
    "PlayerFile",
    "RegulatorReport",
    "Report",
    "RunStarted",
    "ScheduleStatus",
    "Sentinel",
    "ServerRuntime",
    "check_serving",
    "require_existing",
]


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its home on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
