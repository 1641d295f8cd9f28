"""A small end-to-end run on a real Snowflake account (issue #25): skipped without one.

Set ``SENTINEL_SNOWFLAKE_LIVE=1`` and the account's settings (``SENTINEL_WAREHOUSE__SNOWFLAKE__
ACCOUNT``, ``__USER``, ``__AUTHENTICATOR`` = key_pair with ``SNOWFLAKE_PRIVATE_KEY``, ...). The
warehouse contract tests of ``tests/warehouse/test_warehouse.py`` run there too (their ``snowflake_live``
parameter). Everything is created in schemas of its own and dropped afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import AS_OF
from dk_sentinel.config import Settings
from dk_sentinel.ingest import ingest
from dk_sentinel.scoring import score_batch
from dk_sentinel.synthetic.generator import generate
from dk_sentinel.warehouse import connect
from dk_sentinel.warehouse.schema import bootstrap

pytestmark = pytest.mark.snowflake_live


def test_a_small_score_batch_on_a_real_account(
    snowflake_live_settings: Settings, tmp_path: Path
) -> None:
    settings = snowflake_live_settings
    gen = generate(tmp_path / "data", players=50, days=30, seed=3, as_of=AS_OF)
    with connect(settings) as wh:
        bootstrap(wh)
        for kind in ("bets", "assessments"):
            ingest(wh, kind, [gen.files[kind]])  # type: ignore[arg-type]
        zone = wh.query("show parameters like 'TIMEZONE' in session")
    assert zone and zone[0][1] == "UTC"  # the pinned session
    run = score_batch(settings, as_of=AS_OF)
    assert run.status == "success", run.error
    assert run.players_scored == 50
    with connect(settings) as wh:
        kinds = wh.query(
            "select table_name, is_transient from information_schema.tables "
            "where table_schema = ? and table_name = 'RG_RISK_SCORES'",
            [settings.warehouse.schemas.analytics.upper()],
        )
        lease = wh.query("select owner from {ops}.job_leases where job = 'score-batch'")
    assert kinds == [("RG_RISK_SCORES", "NO")]  # the score history keeps Fail-safe
    assert lease == [(None,)]  # released
