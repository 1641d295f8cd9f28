"""One output object for every data command: a Rich table on stderr-free stdout, or plain JSON.

JSON is written with ``sys.stdout.write`` (never through Rich, which wraps lines in a pipe).
Messages, warnings and summaries go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dk_sentinel.models import PLAYER_ID_FORM

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console, RenderableType

PIPE_WIDTH = 120
PIPE_MAX_WIDTH = 240


@cache
def console(err: bool = False) -> Console:
    """The Rich console for stdout (tables) or stderr (messages), created on first use.

    Rich is imported only when something is rendered, which keeps `sentinel --help` fast.
    Tables written to a pipe or a file get 120 columns (Rich's default there is 80, which
    cuts ids and timestamps), unless ``COLUMNS`` says otherwise.
    """
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    wide = None if stream.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH
    return Console(stderr=err, highlight=False, soft_wrap=err, width=wide)


class Format(StrEnum):
    """Output formats of data commands."""

    table = "table"
    json = "json"


#: Who acts (interventions, cancellations, cases); the use case falls back to the config.
AnalystOpt = Annotated[
    str | None,
    typer.Option(
        "--analyst", help="Analyst id (default: config or $SENTINEL_ANALYST).", show_default=False
    ),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="Output format: a table, or JSON on stdout.")
]
PlayerIdArg = Annotated[
    str, typer.Argument(help=f"Player id, {PLAYER_ID_FORM}.", show_default=False)
]

CATEGORY_STYLE = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "green"}


def to_jsonable(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> Any:
    """Convert a model, a list of models or a dict to JSON-ready data."""
    if hasattr(data, "model_dump"):  # a pydantic model (not imported: keeps --help fast)
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return {
            k: to_jsonable(v) if isinstance(v, list | tuple) or hasattr(v, "model_dump") else v
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [to_jsonable(item) for item in data]
    return data


def emit(
    data: BaseModel | Sequence[BaseModel] | dict[str, Any],
    fmt: Format,
    render: Callable[[Any], RenderableType | Sequence[RenderableType]],
) -> None:
    """Write ``data`` as JSON on stdout, or as the Rich renderables ``render(data)`` returns.

    Args:
        data: The result of a library function.
        fmt: The requested format.
        render: Builds the table view of ``data``.
    """
    if fmt is Format.json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, default=str) + "\n")
        sys.stdout.flush()
        return
    rendered = render(data)
    out = console()
    piped = not out.is_terminal and "COLUMNS" not in os.environ
    for item in rendered if isinstance(rendered, list | tuple) else [rendered]:
        if piped:  # a file gets every id, code and setting name whole: as wide as the table
            # needs (up to PIPE_MAX_WIDTH: a free-text column that takes what is left wraps)
            natural = out.measure(item, options=out.options.update_width(PIPE_MAX_WIDTH)).maximum
            usual, out.width = out.width, max(PIPE_WIDTH, min(natural, PIPE_MAX_WIDTH))
            try:  # (print's own width argument cannot exceed the console's)
                out.print(item)
            finally:
                out.width = usual
        else:
            out.print(item)


def when(value: Any) -> str:
    """A timestamp in a table: the one human format, with its zone (``2026-12-07 17:06 UTC``)."""
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def info(message: str) -> None:
    """Print a one-line message on stderr (never stdout); silent with ``--quiet``."""
    import logging

    if logging.getLogger("dk_sentinel").getEffectiveLevel() > logging.INFO:
        return
    console(err=True).print(message, markup=False, soft_wrap=True)


def category_text(category: str | None) -> str:
    """Rich markup for a category, coloured by severity."""
    if not category:
        return "-"
    return f"[{CATEGORY_STYLE.get(category, '')}]{category}[/]"


@contextmanager
def progress(label: str) -> Iterator[Callable[[str], None]]:
    """A status line on stderr while work runs -- only when stderr is a terminal."""
    if not sys.stderr.isatty():  # cron, pipes, tests: no Rich import (~40 ms) at all
        yield lambda _msg: None
        return
    stderr = console(err=True)
    with stderr.status(label) as status:
        yield lambda msg: status.update(f"{label}: {msg}")
