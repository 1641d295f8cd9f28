"""The ``sentinel`` entry point: the root callback, the command groups, and the one error map.

Every :class:`~dk_sentinel.errors.SentinelError` raised anywhere below is turned here, and only
here, into one line on stderr, a hint, and its documented exit code. Tracebacks are shown only
with ``SENTINEL_DEBUG=1`` (or under pytest).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dk_sentinel import __version__
from dk_sentinel.cli import output
from dk_sentinel.cli.context import AppState
from dk_sentinel.errors import ExitCode, SentinelError


def _debug() -> bool:
    return (
        os.environ.get("SENTINEL_DEBUG", "") not in ("", "0") or "PYTEST_CURRENT_TEST" in os.environ
    )


def _error_line(label: str, message: str) -> None:
    """Print the label in bold red and the message as plain text, never as markup.

    A glob like ``bets_[ab].csv`` in a message must reach the user whole.
    """
    from rich.text import Text

    line = Text(label + " ", style="bold red")
    line.append(message)
    output.console(err=True).print(line, highlight=False, soft_wrap=True)


#: The root's flags that a user may also put after the command (`sentinel score-batch --quiet`
#: in a crontab): moved before it, where the root parses them.
_ANYWHERE_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose"})


class SentinelGroup(typer.core.TyperGroup):
    """Root group that maps errors to messages and exit codes, once for every command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Accept ``--quiet``/``-q`` and ``--verbose``/``-v`` after the command too."""
        if "--" in args:
            head, tail = args[: args.index("--")], args[args.index("--") :]
        else:
            head, tail = args, []
        flags = [a for a in head if a in _ANYWHERE_FLAGS]
        rest = [a for a in head if a not in _ANYWHERE_FLAGS]
        return super().parse_args(ctx, [*flags, *rest, *tail])

    def invoke(self, ctx: Any) -> Any:
        """Run the subcommand; map SentinelError and unexpected errors to exit codes."""
        try:
            return super().invoke(ctx)
        except SentinelError as exc:
            if os.environ.get("SENTINEL_DEBUG", "") not in ("", "0"):
                logging.getLogger("dk_sentinel").exception("debug traceback")
            _error_line("Error:", exc.message)
            if exc.hint:
                output.console(err=True).print(f"Hint: {exc.hint}", markup=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _debug() or hasattr(exc, "show"):  # click's own usage errors render themselves
                raise
            _error_line("Internal error:", f"{type(exc).__name__}: {exc}")
            output.console(err=True).print(
                "Hint: rerun with SENTINEL_DEBUG=1 for the traceback, and report it.", markup=False
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from None


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Logs to whatever ``sys.stderr`` is at the time (test runners swap it per command)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("dk_sentinel")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_sentinel", False):
            logger.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler._sentinel = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"sentinel {__version__}\n")
        raise typer.Exit()


app = typer.Typer(
    cls=SentinelGroup,
    name="sentinel",
    help="DK Sentinel: responsible-gaming risk analytics for RG analysts and data engineers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML config file (else $SENTINEL_CONFIG, ./sentinel.toml).",
            show_default=False,
        ),
    ] = None,
    warehouse_path: Annotated[
        Path | None,
        typer.Option(
            "--db",
            envvar="SENTINEL_DB",
            help="Embedded DuckDB file (overrides warehouse.duckdb.path; or $SENTINEL_DB).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """DK Sentinel: responsible-gaming risk analytics for RG analysts and data engineers."""
    _setup_logging(verbose, quiet)
    overrides: dict[str, Any] = {}
    if warehouse_path is not None:
        overrides["warehouse.duckdb.path"] = warehouse_path
    ctx.obj = AppState(
        config=config,
        overrides=overrides,
        creates_warehouse=ctx.invoked_subcommand in CREATES_OR_NEEDS_NO_WAREHOUSE,
        command=ctx.invoked_subcommand or "",
    )


#: Commands that may run where no embedded warehouse file exists yet: they create one
#: (init, demo) or do not open it (generate, config, schema). Any other command on a missing
#: file -- doctor too -- exits 69 with a hint, and creates nothing: a mistyped --db must not
#: read as an empty queue ("nobody at risk") or a healthy warehouse.
CREATES_OR_NEEDS_NO_WAREHOUSE = frozenset({"init", "demo", "generate", "config", "schema"})


def _register() -> None:
    from dk_sentinel.cli import (
        cases,
        data,
        interventions,
        keys,
        outcomes,
        players,
        reports,
        scoring,
        server,
        system,
    )

    for resource in (system, data, scoring, players, interventions, reports, outcomes, server,
                     keys, cases):  # fmt: skip
        resource.register(app)


_register()


#: The root's options that take a value (skipped when looking for the command's name).
_VALUE_OPTIONS = frozenset({"-c", "--config", "--db"})


def invoked_command(args: list[str]) -> str | None:
    """The name of the command a command line runs (None for the root's help or version)."""
    values_next = False
    for arg in args:
        if values_next:
            values_next = False
        elif arg in _VALUE_OPTIONS:
            values_next = True
        elif arg == "--" or not arg.startswith("-"):
            return None if arg == "--" else arg
    return None


def only_command(typer_app: typer.Typer, name: str | None) -> None:
    """Keep only the command ``name`` in ``typer_app`` when it is one of its commands.

    Click builds every command of a group (reading each function's signature) before it runs
    one: a third of a quick command's start-up. A process runs one command, so the console
    script builds just that one; a typo or the root's help keeps them all (for "did you mean"
    and the list).
    """
    commands = [c for c in typer_app.registered_commands if _name(c) == name]
    groups = [g for g in typer_app.registered_groups if g.name == name]
    if commands or groups:
        typer_app.registered_commands, typer_app.registered_groups = commands, groups


def _name(command: typer.models.CommandInfo) -> str:
    callback = getattr(command.callback, "__name__", "")
    return command.name or callback.replace("_", "-")


def run() -> None:
    """Console-script entry point."""
    only_command(app, invoked_command(sys.argv[1:]))
    app(prog_name="sentinel")
