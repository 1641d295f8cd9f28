"""Running the packaged dbt project.

Under cron, dbt runs in a child process (:func:`run_dbt`): when the child exits the DuckDB
file is certainly free, dbt's global state (flags, logging) stays out of the cron process, and
dbt's import (3-4 s here) stays out of every other command. In ``sentinel serve --schedule``
it stays loaded (:class:`ResidentDbt`): imported once, the project parsed once and re-parsed
only when its files, the vars or the profile change. The profile is generated from Settings
into a cache folder and refers to secrets only through ``env_var()`` -- credentials are never
written to disk.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from hashlib import sha256
from pathlib import Path
from typing import Any

from dk_sentinel import vocabulary
from dk_sentinel.config import Settings
from dk_sentinel.errors import ScoringError
from dk_sentinel.warehouse.jobs import cache_dir

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).parent / "dbt_project"
SCORING_VERSION = "4.0.0"
_SLA = ("critical", "high", "medium")


def _quote(value: object) -> str:
    return json.dumps(str(value))


def profile_yaml(settings: Settings, *, keep_open: bool = True) -> str:
    """The dbt profile for the configured warehouse (secrets only as ``env_var()`` calls).

    Args:
        settings: Loaded settings.
        keep_open: Keep the DuckDB file open for the whole invocation (dbt-duckdb's default;
            about 0.5 s faster a run here). A resident process must not: it would hold
            DuckDB's lock while cron and the CLI wait for the file.

    Returns:
        The text of ``profiles.yml``.
    """
    wh = settings.warehouse
    threads = settings.scoring.models_at_once(wh.backend)
    if wh.backend == "duckdb":
        return (
            "dk_sentinel:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
            f"      path: {_quote(wh.duckdb.path.resolve())}\n"
            f"      schema: {_quote(wh.schemas.analytics)}\n      threads: {threads}\n"
            f"      settings:\n        memory_limit: {_quote(wh.duckdb.memory_limit)}\n"
            f"        threads: {wh.duckdb.threads}\n"
            f"      keep_open: {str(keep_open).lower()}\n"
        )
    sf = wh.snowflake
    account, user, role, auth = sf.account, sf.user, sf.role, sf.authenticator
    key_file, warehouse = sf.private_key_file, sf.warehouse
    if sf.connection_name:  # the named connection's account and sign-in (connections.toml)
        from dk_sentinel.warehouse.snowflake import named_connection, sign_in

        named = named_connection(sf.connection_name)
        account, user = named.get("account", ""), named.get("user", "")
        role = named.get("role", role)
        auth = sign_in(wh)[0]  # type: ignore[assignment]
        key_file = named.get("private_key_file") or named.get("private_key_path") or key_file
        # the warehouse sentinel's own connections run on: the named connection's
        warehouse = named.get("warehouse") or warehouse
    lines = [
        "dk_sentinel:",
        "  target: snowflake",
        "  outputs:",
        "    snowflake:",
        "      type: snowflake",
        f"      account: {_quote(account)}",
        f"      user: {_quote(user)}",
        f"      database: {_quote(sf.database)}",
        f"      warehouse: {_quote(warehouse)}",
        f"      schema: {_quote(wh.schemas.analytics)}",
        f"      threads: {threads}",
        f"      connect_timeout: {sf.login_timeout_seconds}",
        f"      query_tag: {_quote(sf.query_tag)}",
        "      client_session_keep_alive: true",
    ]
    if role:
        lines.append(f"      role: {_quote(role)}")
    if auth == "password":
        lines.append("      password: \"{{ env_var('SNOWFLAKE_PASSWORD') }}\"")
    elif auth == "key_pair":
        if key_file is not None:
            lines.append(f"      private_key_path: {_quote(key_file)}")
        else:
            lines.append("      private_key: \"{{ env_var('SNOWFLAKE_PRIVATE_KEY') }}\"")
        from_env = "{{ env_var('SNOWFLAKE_PRIVATE_KEY_PASSPHRASE', '') }}"
        lines.append(f'      private_key_passphrase: "{from_env}"')
    elif auth in ("oauth", "oauth_client_credentials"):  # a token sentinel got (secrets_env)
        lines += ["      authenticator: oauth",
                  "      token: \"{{ env_var('SNOWFLAKE_OAUTH_TOKEN') }}\""]  # fmt: skip
    elif auth == "workload_identity":
        provider = _quote(sf.workload_identity_provider)
        lines += ["      authenticator: workload_identity",
                  f"      workload_identity_provider: {provider}"]  # fmt: skip
    else:
        lines.append("      authenticator: externalbrowser")
    if sf.host:  # a proxy, PrivateLink or an emulator
        lines += [f"      host: {_quote(sf.host)}", f"      protocol: {_quote(sf.protocol)}"]
        if sf.port:
            lines.append(f"      port: {sf.port}")
    return "\n".join(lines) + "\n"


def dbt_vars(settings: Settings, **run: Any) -> dict[str, Any]:
    """The dbt vars: the scoring settings (plus any extra vars given).

    Args:
        settings: Loaded settings.
        **run: Extra vars (normally none: the models read the run's identity from the
            warehouse).

    Returns:
        A JSON-serialisable dict for ``--vars``.
    """
    s = settings.scoring
    values: dict[str, Any] = {
        "scoring_version": SCORING_VERSION,
        **vocabulary.dbt_vars(s.weights),
        "raw_schema": settings.warehouse.schemas.raw,
        "ops_schema": settings.warehouse.schemas.ops,
        **s.model_dump(exclude={"weights", "thresholds", "dbt_threads", "history"}),
        **{f"sla_hours_{c}": getattr(settings.queue, f"sla_hours_{c}") for c in _SLA},
        "high_plus_max_share": settings.queue.high_plus_max_share,
        # the session's waits (pin_session), as sentinel's own connections pin them
        "lock_timeout_seconds": int(settings.warehouse.busy_timeout_seconds),
        "statement_timeout_seconds": settings.warehouse.snowflake.statement_timeout_seconds,
        "threshold_critical": str(s.thresholds.critical),
        "threshold_high": str(s.thresholds.high),
        "threshold_medium": str(s.thresholds.medium),
        "category_basis": settings.outcomes.category_basis,
        **{
            f"probability_threshold_{name}": str(value)
            for name, value in settings.outcomes.probability_thresholds.model_dump().items()
        },
    }
    values.update({k: str(v) for k, v in run.items()})
    return values


@dataclass
class DbtResult:
    """What a dbt invocation did."""

    ok: bool
    models_ok: bool
    tests_passed: int = 0
    tests_failed: int = 0
    failures: list[str] = field(default_factory=list)
    log_file: str = ""
    seconds: float = 0.0
    #: The compiled SQL of each failed data test (run again to say which rows broke what).
    failed_test_sql: list[str] = field(default_factory=list)


def _folder(settings: Settings, resident: bool) -> Path:
    """Where dbt's profile and target live (the resident process keeps its own).

    Its profile differs, and sharing one would make each mode invalidate the other's
    partial parse.
    """
    folder = cache_dir(settings) / "resident" if resident else cache_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def dbt_arguments(
    settings: Settings,
    command: list[str],
    variables: Mapping[str, Any] | None = None,
    *,
    resident: bool = False,
) -> list[str]:
    """The dbt command line for the packaged project (and its generated profile, written).

    Args:
        settings: Loaded settings.
        command: e.g. ``["build"]`` or ``["parse"]``.
        variables: dbt vars.
        resident: For dbt kept loaded in a long-lived process (:class:`ResidentDbt`).

    Returns:
        The arguments after ``dbt``, as given to ``dbtRunner.invoke``.
    """
    folder = _folder(settings, resident)
    (folder / "profiles.yml").write_text(
        profile_yaml(settings, keep_open=not resident), encoding="utf-8"
    )
    args = [
        *command,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(folder),
        "--target-path",
        str(folder / "target"),
        "--log-path",
        str(cache_dir(settings) / "logs"),
    ]
    variables = dict(variables or {})
    if settings.warehouse.backend == "snowflake" and settings.warehouse.snowflake.emulator:
        # fakesnow cannot create the temporary tables dbt uses for unit tests and
        # incremental merges; the unit tests run on DuckDB, where the same SQL is tested.
        variables["tmp_relation_type"] = "transient"
        variables["snowflake_clustering"] = False  # fakesnow has no clustering keys
        variables["pin_session"] = False  # nor ALTER SESSION
    if command[0] == "build":
        # Unit tests check the SQL on fixed inputs, not the data: dbt advises running them in
        # development and CI only (the test suite does), not in every production run.
        args += ["--exclude-resource-type", "unit_test"]
    if command[0] != "parse":
        # The outcome is read from dbt's result object (summarise), so dbt need not write
        # manifest.json and run_results.json (~0.6 s a run here).
        args.append("--no-write-json")
    if variables:
        args += ["--vars", json.dumps(variables)]
    return args


def summarise(outcome: Any) -> DbtResult:
    """What a ``dbtRunner`` invocation did, from its result object.

    Args:
        outcome: The ``dbtRunnerResult``.

    Returns:
        The outcome (``log_file`` and ``seconds`` are the caller's to fill in).

    Raises:
        ScoringError: dbt could not run at all (nothing was executed).
    """
    results = getattr(outcome.result, "results", None)
    if results is None:
        error = str(outcome.exception or "no results").strip().splitlines()
        raise ScoringError(f"dbt could not run: {' | '.join(error[-5:])}")
    result = DbtResult(ok=True, models_ok=True)
    for item in results:
        uid, status = item.node.unique_id, str(getattr(item.status, "value", item.status))
        message = item.message or status
        if uid.startswith(("test.", "unit_test.")):
            if status == "pass":
                result.tests_passed += 1
            elif status in ("fail", "error"):
                result.tests_failed += 1
                result.failures.append(f"{uid.split('.')[-1]}: {message}")
                if getattr(item.node, "compiled_code", None):
                    result.failed_test_sql.append(item.node.compiled_code)
        elif status in ("error", "fail"):
            result.models_ok = False
            result.failures.append(f"{uid}: {message}")
        elif status == "skipped":  # downstream of a failure: reported, not a failure itself
            result.failures.append(f"{uid}: skipped")
    result.ok = result.models_ok and result.tests_failed == 0
    return result


def child_main() -> None:
    """The child process of :func:`run_dbt`: ``<results file> <dbt arguments...>``.

    Runs dbt in this process and writes the summary (or the reason it could not run) as JSON.
    """
    from dbt.cli.main import dbtRunner

    out, args = Path(sys.argv[1]), sys.argv[2:]
    outcome = dbtRunner().invoke(args)
    summary: dict[str, Any]
    if args[0] == "parse":  # the result is the manifest: parsing is all there is to it
        parsed = DbtResult(ok=True, models_ok=True)
        summary = (
            {"result": asdict(parsed)}
            if outcome.success
            else {"error": f"the packaged dbt project does not parse: {outcome.exception}"}
        )
    else:
        try:
            summary = {"result": asdict(summarise(outcome))}
        except ScoringError as exc:
            summary = {"error": exc.message}
    out.write_text(json.dumps(summary), encoding="utf-8")
    _exit_now(0 if outcome.success else 1)


def _exit_now(code: int) -> None:
    """End the child without the interpreter's teardown of dbt's module graph (~0.5 s a run).

    The DuckDB file is closed first (``keep_open`` holds it; closing checkpoints it), and the
    log handlers are flushed, so nothing is lost by skipping the rest.
    """
    manager = sys.modules.get("dbt.adapters.duckdb.connections")
    environment = getattr(getattr(manager, "DuckDBConnectionManager", None), "_ENV", None)
    if environment is not None:
        environment.close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


#: The environment variable that names the run to dbt's models (the macro ``this_run_id``).
RUN_ENV = "DK_SENTINEL_RUN_ID"
_RUN_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@contextmanager
def running_as(run_id: str) -> Iterator[None]:
    """Name the run to the dbt commands started meanwhile (child or resident).

    The models then read this run's identity and nothing else's: once the run is no longer
    ``running`` (its lease was taken over and the new holder repaired it), they stop instead
    of writing under the new run's id. One scoring run at a time holds the lease, so the
    process environment is this run's while it lasts.

    Raises:
        ValueError: ``run_id`` is not a run id (the models write it into SQL).
    """
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    previous = os.environ.get(RUN_ENV)
    os.environ[RUN_ENV] = run_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = previous


def run_dbt(
    settings: Settings,
    command: list[str],
    variables: Mapping[str, Any] | None = None,
) -> DbtResult:
    """Run one dbt command on the packaged project in a child process.

    Args:
        settings: Loaded settings.
        command: e.g. ``["build"]`` or ``["parse"]``.
        variables: dbt vars (the scoring settings: the same from run to run, so dbt's
            partial parsing survives; the models read the run's identity from its row of
            ``scoring_runs``, named in the environment by :func:`running_as`, see the
            ``current_run`` macro).

    Returns:
        The outcome.

    Raises:
        ScoringError: dbt could not run at all.
    """
    folder = _folder(settings, resident=False)
    summary_file = folder / "target" / "sentinel_result.json"
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-c",
        "from dk_sentinel.scoring.dbt import child_main; child_main()",
        str(summary_file),
        *dbt_arguments(settings, command, variables),
    ]
    env = {**os.environ, **_DBT_ENV, **secrets_env(settings)}
    started = time.perf_counter()
    deadline = time.monotonic() + settings.warehouse.busy_timeout_seconds
    while True:
        summary_file.unlink(missing_ok=True)
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        locked = "Could not set lock" in proc.stdout + proc.stderr
        if not locked or time.monotonic() > deadline:
            break
        log.warning("dbt found the warehouse locked by another command; retrying")
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    log_file = str(cache_dir(settings) / "logs" / "dbt.log")
    summary = json.loads(summary_file.read_text("utf-8")) if summary_file.exists() else {}
    if "result" not in summary:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        reason = summary.get("error") or " | ".join(tail) or "no output"
        raise ScoringError(
            f"dbt {command[0]} could not run: {reason}",
            f"See {log_file}; the previous scores are intact.",
        )
    return replace(DbtResult(**summary["result"]), log_file=log_file, seconds=seconds)


#: A named connection's secrets (connections.toml) -> the variables the profile reads them from.
_NAMED_SECRETS = {
    "password": "SNOWFLAKE_PASSWORD",
    "private_key_file_pwd": "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "token": "SNOWFLAKE_OAUTH_TOKEN",
}


def secrets_env(settings: Settings) -> dict[str, str]:
    """Secrets dbt reads with ``env_var()`` that sentinel found elsewhere.

    An OAuth token file, and a named connection's password, key passphrase or token (from
    ``connections.toml``): handed to dbt's process in its environment, never written into
    ``profiles.yml``.
    """
    sf = settings.warehouse.snowflake
    if settings.warehouse.backend != "snowflake":
        return {}
    if sf.connection_name:
        from dk_sentinel.warehouse.snowflake import named_connection

        named = named_connection(sf.connection_name)
        return {env: str(named[key]) for key, env in _NAMED_SECRETS.items() if named.get(key)}
    if sf.authenticator not in ("oauth", "oauth_client_credentials"):
        return {}
    from dk_sentinel.warehouse.snowflake import connect_args

    return {"SNOWFLAKE_OAUTH_TOKEN": connect_args(settings.warehouse)["token"]}


_DBT_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_USE_COLORS": "false",
    "DBT_PRINTER_WIDTH": "100",
}


class ResidentDbt:
    """dbt loaded in this process, the parsed manifest kept between runs (serve's scheduler).

    Calling it is :func:`run_dbt` without the child process: no import and no parse per run.
    One run at a time (dbt's global state is per process).
    """

    def __init__(self) -> None:
        """Nothing is loaded until the first run."""
        self._manifest: Any = None
        self._fingerprint = ""
        self._lock = threading.Lock()
        self.parses = 0

    def __call__(
        self, settings: Settings, command: list[str], variables: Mapping[str, Any] | None = None
    ) -> DbtResult:
        """Run one dbt command (as :func:`run_dbt`), parsing first only when needed."""
        from dbt.cli.main import dbtRunner

        os.environ.update({**_DBT_ENV, **secrets_env(settings)})
        with self._lock:
            started = time.perf_counter()
            args = dbt_arguments(settings, command, variables, resident=True)
            parse = dbt_arguments(settings, ["parse"], variables, resident=True)
            fingerprint = _fingerprint(parse, _folder(settings, resident=True))
            if self._manifest is None or fingerprint != self._fingerprint:
                parsed = dbtRunner().invoke(parse)
                if not parsed.success:
                    raise ScoringError(
                        f"the packaged dbt project does not parse: {parsed.exception}"
                    )
                self._manifest, self._fingerprint = parsed.result, fingerprint
                self.parses += 1
            log_file = str(cache_dir(settings) / "logs" / "dbt.log")
            try:
                _uncompiled(self._manifest)
                result = summarise(dbtRunner(manifest=self._manifest).invoke(args))
            except ScoringError as exc:
                raise ScoringError(
                    f"dbt {command[0]} {exc.message.removeprefix('dbt ')}",
                    f"See {log_file}; the previous scores are intact.",
                ) from None
            return replace(result, log_file=log_file, seconds=time.perf_counter() - started)


def _uncompiled(manifest: Any) -> None:
    """Forget what the last run compiled into the kept manifest's nodes.

    dbt marks a node's ephemeral CTEs as injected when it compiles it, and a later compile
    that finds the mark does not inject them again, so a reused manifest failed every run
    after the first ("__dbt__cte__int_account_sessions does not exist"). Copying the
    manifest instead (deepcopy, pickle) breaks its lookups.
    """
    for node in manifest.nodes.values():
        if node.resource_type != "seed":  # a seed compiles nothing (read-only properties)
            node.extra_ctes_injected = False
            node.extra_ctes = []
            node.compiled = False
            node.compiled_code = None
            node._pre_injected_sql = None


def _fingerprint(args: list[str], folder: Path) -> str:
    """What a parsed manifest depends on: the project's files, the vars and the profile."""
    digest = sha256(json.dumps(args[1:]).encode())
    digest.update((folder / "profiles.yml").read_bytes())
    for path in sorted(PROJECT_DIR.rglob("*")):
        if path.is_file() and "target" not in path.parts:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    return digest.hexdigest()


def parse_project(settings: Settings) -> str:
    """Check that the packaged dbt project parses with the configured profile.

    Args:
        settings: Loaded settings.

    Returns:
        A one-line description for ``sentinel doctor``.

    Raises:
        ScoringError: dbt cannot run or the project does not parse.
    """
    result = run_dbt(settings, ["parse"], dbt_vars(settings))
    return f"parses ({result.seconds:.1f} s, {PROJECT_DIR.name})"
