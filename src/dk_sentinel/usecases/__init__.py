"""The use-case layer: the application object and the server's runtime.

The front ends (``cli``, ``api``) import only this package, ``models``, ``errors`` and
``config`` (an import contract). The result types a front end renders are re-exported here,
so a front end never reaches into a capability for a name.
"""

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
