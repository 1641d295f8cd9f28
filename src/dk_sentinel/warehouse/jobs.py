"""Jobs that run one at a time per warehouse (``score-batch``, ``deliver``, ``ingest``).

Two guards, the second one the guarantee:

- an OS **file lock** in the warehouse's cache folder, the fast path on one host (the kernel
  releases it when its holder dies, so a killed job's is simply taken over);
- a **lease** in the warehouse (``{ops}.job_leases``, one row per job), which holds across
  hosts and OS users: taken by one conditional ``UPDATE`` (free, or expired), renewed by a
  heartbeat every third of ``[warehouse] lease_seconds`` while the job runs, released at the
  end. A holder that died stops renewing; its lease is taken over once it has expired, and the
  new holder repairs what it left (the scoring run it had marked ``running``).

On the embedded DuckDB file the file lock already proves that no other holder is alive (the
file is local), so the lease is taken at once and needs no heartbeat (a heartbeat would have
to open the file while the dbt child uses it). A second job exits 75 naming the holder, its
host and its pid.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TypeVar

from dk_sentinel.config import Settings
from dk_sentinel.errors import BusyError, LeaseLost, SchemaError, WriteConflict
from dk_sentinel.models import utcnow
from dk_sentinel.warehouse import Connections, DirectConnections, Warehouse
from dk_sentinel.warehouse.schema import require_current

log = logging.getLogger(__name__)
T = TypeVar("T")


def cache_dir(settings: Settings) -> Path:
    """A writable folder per warehouse: dbt's profile, target and logs, the job locks.

    Args:
        settings: Loaded settings.

    Returns:
        The folder (created), one per warehouse.
    """
    wh = settings.warehouse
    ident = (
        str(wh.duckdb.path.resolve())
        if wh.backend == "duckdb"
        else f"{wh.snowflake.account}/{wh.snowflake.database}"
    )
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dk-sentinel"
    folder = base / sha256(ident.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Lease:
    """This process's claim on one job's row of ``{ops}.job_leases``."""

    def __init__(self, job: str, seconds: float) -> None:
        """Prepare a claim (nothing is taken yet).

        Args:
            job: The job's row (``score-batch``, ``deliver``, ``ingest:bets``, ...).
            seconds: How long the lease lasts without a heartbeat.
        """
        self.job, self.seconds = job, seconds
        self.owner = uuid.uuid4().hex
        self.host, self.pid = socket.gethostname(), os.getpid()
        #: The fencing token: which taking of the lease this is (set by :meth:`take`).
        self.generation: int | None = None
        #: Set when the heartbeat or a fence finds the lease taken over.
        self.lost = threading.Event()

    def take(self, wh: Warehouse, *, force: bool = False) -> dict[str, object] | None:
        """Take the lease if it is free or expired (``force``: whatever its state).

        Returns:
            None when taken; else the holder's row (owner, host, pid, acquired_at, expires_at).
        """
        now = wh.clock()  # the warehouse's: hosts' clocks may disagree
        condition = "" if force else " and (owner is null or expires_at < ?)"
        try:
            with wh.transaction():
                wh.execute(
                    "update {ops}.job_leases set owner = ?, host = ?, pid = ?, acquired_at = ?, "
                    "heartbeat_at = ?, expires_at = ?, generation = coalesce(generation, 0) + 1 "
                    f"where job = ?{condition}",
                    [self.owner, self.host, self.pid, now, now, self._expiry(now), self.job]
                    + ([] if force else [now]),
                )
        except WriteConflict:  # another host's UPDATE of the row won (an MVCC engine says so)
            pass
        rows = wh.query_dicts(
            "select owner, host, pid, acquired_at, expires_at, generation "
            "from {ops}.job_leases where job = ?",
            [self.job],
        )
        if not rows:
            raise SchemaError(
                f"the warehouse has no lease for {self.job}", "Run `sentinel init` to migrate it."
            )
        holder = rows[0]
        if holder["owner"] != self.owner:
            return holder
        self.generation = int(str(holder["generation"]))
        return None

    def renew(self, wh: Warehouse) -> bool:
        """Push the expiry on; False when the lease is no longer ours (it expired and was taken)."""
        now = wh.clock()
        wh.execute(
            "update {ops}.job_leases set heartbeat_at = ?, expires_at = ? "
            "where job = ? and owner = ? and generation = ?",
            [now, self._expiry(now), self.job, self.owner, self.generation],
        )
        if not self._still_ours(wh):
            self.lost.set()
            return False
        return True

    def fence(self, wh: Warehouse) -> None:
        """Prove, inside the caller's write transaction, that the lease is still this job's.

        The first statement of each of the job's write transactions: it updates the lease row
        with the job's owner and generation (the fencing token), so on Snowflake a host taking
        the lease over waits for this transaction to commit, and DuckDB rolls the later of two
        back; then it checks the row is still this taking's. A job whose lease was taken
        over -- it stalled past the lease, its clock ran behind -- writes nothing more.

        Raises:
            LeaseLost: Another host holds the lease now (exit 75).
        """
        if not self.lost.is_set():
            wh.execute(
                "update {ops}.job_leases set heartbeat_at = heartbeat_at "
                "where job = ? and owner = ? and generation = ?",
                [self.job, self.owner, self.generation],
            )
            if self._still_ours(wh):
                return
            self.lost.set()
        raise LeaseLost(
            f"the {self.job} lease was taken over by another host; this {self.job} stops "
            "without writing more"
        )

    def _still_ours(self, wh: Warehouse) -> bool:
        rows = wh.query("select owner, generation from {ops}.job_leases where job = ?", [self.job])
        return bool(rows) and rows[0][0] == self.owner and rows[0][1] == self.generation

    def release(self, wh: Warehouse) -> None:
        """Give the lease up (only if it is still ours)."""
        wh.execute(
            "update {ops}.job_leases set owner = null, expires_at = null "
            "where job = ? and owner = ?",
            [self.job, self.owner],
        )

    def _expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.seconds)


def _holder_text(job: str, holder: dict[str, object]) -> str:
    started = holder.get("acquired_at")
    if isinstance(started, str):
        started = datetime.fromisoformat(started)
    since = f", started {started:%Y-%m-%d %H:%M:%S} UTC" if isinstance(started, datetime) else ""
    if holder.get("pid") is None:  # taken this instant, not yet committed
        return f"another {job} is starting"
    return f"another {job} is running (pid {holder.get('pid')} on {holder.get('host')}{since})"


@contextmanager
def _file_lock(settings: Settings, job: str, hint: str, wait_seconds: float) -> Iterator[None]:
    """The same-host fast path; the holder writes who it is beside the lock."""
    import json

    from filelock import FileLock, Timeout

    folder, name = cache_dir(settings), job.replace(":", "-")
    holder_file = folder / f"{name}.holder.json"
    lock = FileLock(str(folder / f"{name}.lock"))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        try:
            holder = json.loads(holder_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            holder = {"pid": "?", "host": socket.gethostname()}
        raise BusyError(_holder_text(job, holder), hint) from None
    try:
        started = utcnow()
        holder_file.write_text(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                        "acquired_at": started.isoformat(timespec="seconds")}),
            encoding="utf-8",
        )  # fmt: skip
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()


@contextmanager
def exclusive_job(
    settings: Settings,
    job: str,
    hint: str,
    *,
    connections: Connections | None = None,
    wh: Warehouse | None = None,
    wait_seconds: float = 0.0,
) -> Iterator[Lease]:
    """Run the ``with`` block as the only ``job`` on this warehouse, wherever it runs.

    The block gets the :class:`Lease`: its writes prove it with :meth:`Lease.fence`.

    Args:
        settings: Loaded settings (the warehouse, ``[warehouse] lease_seconds``).
        job: The job (a row of ``{ops}.job_leases``).
        hint: What to tell a second job that finds it running.
        connections: Where connections come from (default: opened and closed here).
        wh: An open warehouse to take and release the lease with (else one is opened).
        wait_seconds: How long to wait for a held lease before giving up (ingest waits;
            scoring and delivery run on the next tick instead).

    Raises:
        BusyError: The job is running elsewhere (names the holder, its host and pid).
    """
    source = connections or DirectConnections(settings)
    connect = (lambda: nullcontext(wh)) if wh is not None else source.connect
    lease = Lease(job, settings.warehouse.lease_seconds)
    embedded = settings.warehouse.backend == "duckdb"
    deadline = time.monotonic() + wait_seconds
    with _file_lock(settings, job, hint, wait_seconds):
        while True:
            with connect() as wh:
                require_current(wh)  # a warehouse of an older release: "run sentinel init"
                holder = lease.take(wh, force=embedded)
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise BusyError(_holder_text(job, holder), hint)
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))
        stop = threading.Event()
        beat = None
        if not embedded:
            beat = threading.Thread(
                target=_heartbeat, args=(lease, source, stop), daemon=True,
                name=f"lease-{job}",
            )  # fmt: skip
            beat.start()
        try:
            yield lease
        finally:
            stop.set()
            if beat is not None:
                beat.join(5)
            try:
                with connect() as wh:
                    lease.release(wh)
            except Exception as exc:  # the lease then simply expires
                log.warning("could not release the %s lease: %s", job, exc)


def _heartbeat(lease: Lease, connections: Connections, stop: threading.Event) -> None:
    """Renew the lease every third of its length until ``stop``; warn if it was lost."""
    while not stop.wait(lease.seconds / 3):
        try:
            with connections.connect() as wh:
                if not lease.renew(wh):  # the job's next fenced write stops it
                    log.error("the %s lease expired and was taken over by another host", lease.job)
                    return
        except Exception as exc:  # a transient error: the next beat tries again
            log.warning("could not renew the %s lease: %s", lease.job, exc)


#: DuckDB rolls back the later of two concurrent writers (WriteConflict): run it again.
_CONFLICT_RETRIES = 50


def guarded(wh: Warehouse, name: str, now: datetime, work: Callable[[], T]) -> T:
    """Run ``work`` in a transaction that first updates the ``name`` row of ``write_guards``.

    Writers of one kind then take turns: Snowflake holds the row's lock until commit (it
    enforces no unique keys, so the rules ``work`` checks need it), DuckDB rolls the later one
    back (:class:`WriteConflict`) and it runs again, re-checking its rules.
    """
    for attempt in range(_CONFLICT_RETRIES):
        try:
            with wh.transaction():
                wh.execute("update {ops}.write_guards set touched_at = ? where name = ?",
                           [now, name])  # fmt: skip
                return work()
        except WriteConflict:
            if attempt == _CONFLICT_RETRIES - 1:
                raise
            time.sleep(random.uniform(0.001, 0.01) * (attempt + 1))  # noqa: S311 - jitter
    raise AssertionError("unreachable")
