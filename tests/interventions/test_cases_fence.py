"""#38: only the latest published run opens cases (a stalled host writes nothing stale)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dk_sentinel.config import Settings
from dk_sentinel.interventions.cases import open_or_update
from dk_sentinel.scoring import last_successful_run
from dk_sentinel.warehouse import connect

pytestmark = pytest.mark.slow  # a scored warehouse


def test_a_run_no_longer_the_latest_opens_no_case(scored: Settings) -> None:
    sla = {"CRITICAL": 2.0, "HIGH": 24.0}
    with connect(scored) as wh:
        run = last_successful_run(wh)
        assert run is not None and run.finished_at is not None
        wh.execute("delete from {ops}.cases")
        wh.execute("delete from {ops}.case_events")
        wh.execute("delete from {ops}.trigger_firings")
        # a newer run published by another host while this one stalled
        wh.execute(
            "insert into {ops}.scoring_runs (run_id, status, kind, started_at, finished_at, "
            "as_of) values ('newer', 'success', 'live', ?, ?, ?)",
            [run.finished_at, run.finished_at + timedelta(seconds=5), run.as_of],
        )
        assert last_successful_run(wh).run_id == "newer"  # type: ignore[union-attr]
        assert open_or_update(wh, run.run_id, run.as_of, sla, run.finished_at) == 0
        assert wh.query("select count(*) from {ops}.cases")[0][0] == 0
        assert wh.query("select count(*) from {ops}.case_events")[0][0] == 0
        # the same run, latest again: its flagged players get their cases
        wh.execute("delete from {ops}.scoring_runs where run_id = 'newer'")
        assert open_or_update(wh, run.run_id, run.as_of, sla, run.finished_at) > 0
        assert wh.query("select count(*) from {ops}.cases")[0][0] > 0
