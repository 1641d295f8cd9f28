"""The one error hierarchy of DK Sentinel.

Every failure a user can meet is a :class:`SentinelError` subclass carrying a one-line
message, an actionable hint and a documented exit code. The CLI maps them to output in
exactly one place (``dk_sentinel.cli.main``).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (also listed in the README)."""

    OK = 0
    """Success."""
    INTERNAL = 1
    """An unexpected internal error (a bug): rerun with SENTINEL_DEBUG=1 for the traceback."""
    USAGE = 2
    """Usage or validation error: a bad flag, a bad player id, an unreadable input file."""
    NOT_FOUND = 3
    """Something named does not exist (e.g. an unknown player)."""
    PARTIAL = 4
    """Finished with problems (some rows rejected, dbt tests failed)."""
    DATA = 65
    """Not enough data for a sound answer (e.g. too few outcomes to calibrate on)."""
    UNAVAILABLE = 69
    """The warehouse or a required service is unavailable."""
    BUSY = 75
    """Temporarily busy (the warehouse or scoring lock is held); retry later."""
    CONFIG = 78
    """Configuration error."""


class SentinelError(Exception):
    """Base class of every error shown to a user.

    Attributes:
        message: One line saying what went wrong.
        hint: One line saying what to do about it (may be empty).
        exit_code: The documented exit code for this failure.
    """

    exit_code: ExitCode = ExitCode.INTERNAL
    default_hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint


class UsageError(SentinelError):
    """Invalid user input: a flag, an argument or a file that cannot be used."""

    exit_code = ExitCode.USAGE


class ConflictError(SentinelError):
    """The request conflicts with what is recorded (an active timeout, a reused key)."""

    exit_code = ExitCode.USAGE


class PermissionDenied(SentinelError):
    """The caller may not do this (an API key's role, another analyst's identity)."""

    exit_code = ExitCode.USAGE


class NotFoundError(SentinelError):
    """Something the user named does not exist."""

    exit_code = ExitCode.NOT_FOUND


class PartialFailure(SentinelError):
    """The work finished, but with problems the user must look at."""

    exit_code = ExitCode.PARTIAL


class InsufficientData(SentinelError):
    """The data cannot support the answer asked for (too few outcomes, no evaluable runs)."""

    exit_code = ExitCode.DATA


class ConfigError(SentinelError):
    """The configuration is invalid."""

    exit_code = ExitCode.CONFIG
    default_hint = "Check `sentinel config show` and sentinel.toml.example for the allowed values."


class WarehouseUnavailable(SentinelError):
    """The warehouse cannot be reached or used."""

    exit_code = ExitCode.UNAVAILABLE
    default_hint = "Check the [warehouse] settings and that the warehouse is reachable."


class SchemaError(SentinelError):
    """The warehouse schema is missing, or newer than this version of the code."""

    exit_code = ExitCode.UNAVAILABLE
    default_hint = "Run `sentinel init` to create or migrate the schema."


class RelationMissing(SchemaError):
    """A table or view the query reads does not exist (raised alike by every warehouse).

    Callers that can answer "nothing yet" (a warehouse initialised but never scored) catch
    this type; anything else still surfaces as a schema problem (exit 69).
    """

    default_hint = (
        "The warehouse has no schema or no scores yet: run `sentinel init`, load files with "
        "`sentinel ingest`, then `sentinel score-batch`."
    )


class BusyError(SentinelError):
    """A lock is held by another process; the same command can be retried later."""

    exit_code = ExitCode.BUSY
    default_hint = "Retry later, or raise warehouse.busy_timeout_seconds."


class LeaseLost(BusyError):
    """This job's lease was taken over (it expired: a stall, a clock, a network): it stops."""

    default_hint = (
        "Another host took the job over after this one's lease expired; its next run starts "
        "from a consistent warehouse. Raise warehouse.lease_seconds if this host stalls."
    )


class WriteConflict(BusyError):
    """Two transactions changed the same rows at once; the later one was rolled back.

    Raised by DuckDB's optimistic concurrency (Snowflake waits for the row lock instead);
    a caller whose transaction re-checks its rules simply runs it again.
    """

    default_hint = "Retry: another request changed the same records at the same moment."


class ScoringError(SentinelError):
    """The scoring run (dbt) failed."""

    exit_code = ExitCode.INTERNAL
    default_hint = "See the dbt log named above; the previous scores are intact."
