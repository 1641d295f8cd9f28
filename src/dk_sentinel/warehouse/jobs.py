"""Jobs that run one at a time per warehouse (``score-batch``, ``deliver``), and their folder.

A job holds an OS file lock (``filelock``) in the warehouse's cache folder: the kernel releases
it when its holder dies, so a lock left by a killed job is simply taken over. The holder writes
who it is beside the lock, so a second job can say whom it waited for.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from dk_sentinel.config import Settings
from dk_sentinel.errors import BusyError


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


@contextmanager
def exclusive_job(settings: Settings, job: str, hint: str) -> Iterator[None]:
    """Run the ``with`` block as the only ``job`` on this warehouse, or raise at once.

    Args:
        settings: Loaded settings (the warehouse whose job this is).
        job: The job's name (``score-batch``, ``deliver``): its lock and holder files.
        hint: What to tell a second job that finds it running.

    Raises:
        BusyError: The job is running elsewhere ("another <job> is running (pid ..., ...)").
    """
    from filelock import FileLock, Timeout

    folder = cache_dir(settings)
    holder_file = folder / f"{job}.holder.json"
    lock = FileLock(str(folder / f"{job}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            holder = json.loads(holder_file.read_text(encoding="utf-8"))
            who = f"pid {holder['pid']} on {holder['host']}, started {holder['started_at']}"
        except (OSError, ValueError, KeyError):
            who = "another process"
        raise BusyError(f"another {job} is running ({who})", hint) from None
    try:
        started = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        holder_file.write_text(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": started}),
            encoding="utf-8",
        )
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()
