"""The risk lookup of ``sentinel serve``, answered from memory: the second score source.

Each successful live run builds its score rows and money picture as snapshot tables (the dbt
models ``rg_served_scores`` / ``rg_served_money``). The server keeps the latest run's snapshot in
memory as Arrow tables (columnar: ~1 KB a player), with the open interventions and the run's
freshness block, and answers ``GET /api/players/{id}/risk`` from them without a warehouse
query. A background thread polls every ``[api] served_refresh_seconds`` while lookups come
(three small queries: the latest run, its freshness, counters of intervention and delivery
events; on DuckDB none at all while the file is unchanged) and reloads what changed, so a run
published by cron is served within that time; a write through this server makes the
lookup read the warehouse until the next poll has reloaded the interventions (for the player
of a new intervention; for every player after a cancel or a delivery). Anything not held (a
player missing from the run, no snapshot yet) is read from the warehouse, which stays the one
source of truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dk_sentinel.analysis.published import ScoreSource, freshness
from dk_sentinel.errors import RelationMissing
from dk_sentinel.interventions.records import list_interventions
from dk_sentinel.models import Freshness, Intervention
from dk_sentinel.scoring import SERVED_MONEY, SERVED_SCORES, last_successful_run
from dk_sentinel.warehouse import Warehouse

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("dk_sentinel.served")

# Every change to what an assessment shows of interventions leaves a row in one of these
# append-only tables (created / cancelled / superseded events; delivery attempts).
_MARKS = (
    "select (select count(*) from {ops}.intervention_events), "
    "(select count(*) from {ops}.outbox_attempts)"
)


class _NotPublished(Exception):
    """The latest run's snapshot is not in place (yet)."""


@dataclass(frozen=True)
class _Rows:
    """One snapshot table held in memory, with its row number per player."""

    table: pa.Table
    index: dict[str, int]

    @classmethod
    def load(cls, wh: Warehouse, relation: str, run_id: str) -> _Rows:
        table = wh.query_arrow(f"select * from {relation} where run_id = ?", [run_id])
        players = table.column("player_id").to_pylist() if table.num_rows else []
        return cls(table, {player: i for i, player in enumerate(players)})

    def row(self, player_id: str) -> dict[str, Any] | None:
        i = self.index.get(player_id)
        return None if i is None else self.table.slice(i, 1).to_pylist()[0]


@dataclass(frozen=True)
class _Served:
    """What the memory answers from; replaced whole, never changed in place."""

    run_id: str
    scores: _Rows
    money: _Rows | None
    freshness: Freshness
    marks: tuple[int, ...]
    interventions: dict[str, list[Intervention]] | None  # None: read the warehouse
    rereading: frozenset[str] = frozenset()  # players written through this server since


@dataclass(frozen=True)
class _HeldScores:
    """One lookup's score source: the state held when it was asked (see ScoreSource)."""

    state: _Served
    now: datetime

    def score_row(self, player_id: str) -> tuple[dict[str, Any], str | None]:
        row = self.state.scores.row(player_id)
        assert row is not None  # ServedAssessments.source checked the player is held
        return row, self.state.run_id

    def freshness(self, row: dict[str, Any]) -> Freshness:
        return self.state.freshness.model_copy(update={"last_bet_at": row["last_bet_at"]})

    def money_row(self, player_id: str, run_id: str | None) -> dict[str, Any] | None:
        return self.state.money.row(player_id) if self.state.money else None

    def open_interventions(self, player_id: str) -> list[Intervention]:
        held = self.state.interventions or {}
        return [
            i for i in held.get(player_id, []) if i.expires_at is None or i.expires_at > self.now
        ]


class ServedAssessments:
    """The latest run's assessments held in memory (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[Warehouse]],
        clock: Callable[[], datetime],
        stamp: Callable[[], object] | None = None,
        *,
        max_stale_seconds: float = 60.0,
    ) -> None:
        """Hold nothing yet; :meth:`refresh` loads.

        Args:
            connect: Where warehouse connections come from (the server's pool).
            clock: The application's clock (an open intervention ends on it).
            stamp: Something that changes whenever the warehouse is written (the embedded
                file's size and time): a poll that finds it unchanged opens nothing.
            max_stale_seconds: Beyond this long without a successful poll (a quiet spell,
                polls failing) the lookup reads the warehouse again.
        """
        self._connect = connect
        self._clock = clock
        self._stamp = stamp
        self._stamped: object = None
        self._state: _Served | None = None
        self._refreshing = threading.Lock()  # one poll at a time
        self._assigning = threading.Lock()  # a write's mark and a poll's result, in turn
        self._writes = 0  # writes through this server, so a poll begun before one is not used
        self._polled_at = 0.0  # monotonic time of the last successful poll
        self._asked = False  # a lookup since the last poll (an idle server does not poll)
        self.max_stale_seconds = max_stale_seconds

    @property
    def run_id(self) -> str | None:
        """The run held (None: nothing held)."""
        return self._state.run_id if self._state else None

    def source(self, player_id: str) -> ScoreSource | None:
        """The memory as the player's score source, or None: read the warehouse.

        Args:
            player_id: A validated player id.
        """
        self._asked = True
        state = self._state
        if state is None or state.interventions is None or player_id in state.rereading:
            return None
        if time.monotonic() - self._polled_at > self.max_stale_seconds:
            return None  # polls keep failing: do not serve an ever older state
        if player_id not in state.scores.index:
            return None
        return _HeldScores(state, self._clock())

    def interventions_changed(self, player_id: str | None = None) -> None:
        """A write through this server: its interventions are read from the warehouse a while.

        Until the next poll reloads them: the player's, or every player's when the write may
        touch several (``player_id`` None).
        """
        with self._assigning:
            self._writes += 1
            state = self._state
            if state is None or state.interventions is None:
                return
            if player_id is None:
                self._state = replace(state, interventions=None)
            else:
                self._state = replace(state, rereading=state.rereading | {player_id})

    def poll(self) -> None:
        """:meth:`refresh`, unless nothing was asked since the last poll.

        So an idle server sends no query, and a Snowflake warehouse can suspend; the first
        lookups after a quiet spell longer than ``max_stale_seconds`` read the warehouse.
        """
        if self._state is not None and not self._asked:
            return
        self._asked = False
        self.refresh()

    def refresh(self) -> None:
        """Reload what changed since the last poll: the latest run's snapshot, interventions."""
        stamp = self._stamp() if self._stamp else None
        held = self._state
        if (
            stamp is not None
            and stamp == self._stamped
            and held is not None
            and held.interventions is not None
            and not held.rereading
        ):  # nothing was written since, and no write through this server waits for a reload
            self._polled_at = time.monotonic()
            return
        with self._refreshing, self._connect() as wh:
            writes = self._writes
            try:
                state = self._reloaded(wh, self._state)
            except _NotPublished:
                # the snapshot holds another run than the latest published one (a newer run
                # rebuilt it and is not published yet, or this run never built it): keep
                # serving the run held, as if this poll had not happened (after
                # max_stale_seconds the lookups read the warehouse, which serves the published
                # rows from history)
                return
            with self._assigning:
                if state is not None and writes != self._writes:  # a write during the poll
                    state = replace(state, interventions=None)
                self._state = state
                self._polled_at = time.monotonic()
                self._stamped = stamp

    def _reloaded(self, wh: Warehouse, state: _Served | None) -> _Served | None:
        latest = last_successful_run(wh)
        if latest is None:
            return None
        marks = tuple(int(n) for n in wh.query(_MARKS)[0])
        block = freshness(wh, latest.run_id, None, last_run_finished_at=latest.finished_at)
        if state is None or state.run_id != latest.run_id:
            try:
                scores = _Rows.load(wh, SERVED_SCORES, latest.run_id)
            except RelationMissing:
                raise _NotPublished from None
            if not scores.index:  # the snapshot is another run's (see refresh)
                raise _NotPublished
            log.info("serving run %s from memory: %d players", latest.run_id, len(scores.index))
            state = _Served(latest.run_id, scores, _money(wh, latest.run_id), block, (), None)
        elif state.money is None or not state.money.index:
            # no money rows for this run (none loaded, or the snapshot is another run's): look
            # again at the next poll
            state = replace(state, money=_money(wh, latest.run_id))
        state = replace(state, freshness=block)
        if state.interventions is None or state.rereading or state.marks != marks:
            held: dict[str, list[Intervention]] = {}
            for item in list_interventions(wh, active=True, now=self._clock()):
                held.setdefault(item.player_id, []).append(item)
            state = replace(state, interventions=held, marks=marks, rereading=frozenset())
        return state


def _money(wh: Warehouse, run_id: str) -> _Rows | None:
    """The run's money snapshot (None: no such table yet)."""
    try:
        return _Rows.load(wh, SERVED_MONEY, run_id)
    except RelationMissing:
        return None
