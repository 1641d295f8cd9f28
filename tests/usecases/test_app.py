"""The application object: a context (settings, connections, clock) and its use cases."""

from datetime import datetime

from dk_sentinel.config import Settings
from dk_sentinel.usecases import Sentinel


def test_each_resource_is_built_once_and_reads_the_applications_clock_at_each_use(
    db_settings: Settings,
) -> None:
    app = Sentinel(db_settings, clock=lambda: datetime(2026, 1, 1))
    keys = app.keys
    assert app.keys is keys and app.players is app.players
    app.clock = lambda: datetime(2030, 1, 1)  # e.g. a test moving time on
    assert keys.clock() == datetime(2030, 1, 1)
    app.system.initialise()
    created = keys.create("ana01", "analyst", expires_in="1d")
    assert created.expires_at == datetime(2030, 1, 2)
