"""API keys for sentinel serve: api-keys create, rotate, list, revoke."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dk_sentinel.cli.context import state
from dk_sentinel.cli.output import Format, FormatOpt, emit, info, when
from dk_sentinel.vocabulary import Role

keys_app = typer.Typer(
    help="Create, list and revoke API keys for sentinel serve.", no_args_is_help=True
)


def render_keys(items: Any) -> Any:
    """The Rich view of API keys."""
    from rich.table import Table

    table = Table("key id", "analyst", "role", "created", "expires", "revoked", title="API keys")
    for k in items if isinstance(items, list) else [items]:
        table.add_row(k.key_id, k.analyst_id, k.role, when(k.created_at), when(k.expires_at),
                      when(k.revoked_at))  # fmt: skip
    return table


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    analyst: Annotated[str, typer.Option("--analyst", help="The key's analyst (3-50 chars).")],
    role: Annotated[Role, typer.Option("--role", help="viewer | analyst | admin.")] = "viewer",
    expires_in: ExpiresOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Create a key; it is printed once (stdout) and stored only as a hash."""
    _show_new(state(ctx).app.keys.create(analyst, role, expires_in=expires_in), fmt)


ExpiresOpt = Annotated[
    str | None,
    typer.Option("--expires-in", help="The key stops working after this long: 12h, 90d ...",
                 show_default=False),
]  # fmt: skip


def _show_new(key: Any, fmt: Format) -> None:
    import sys

    if fmt is Format.json:
        emit(key, fmt, lambda k: k)
        return
    sys.stdout.write(key.api_key + "\n")
    until = f", expires {when(key.expires_at)}" if key.expires_at else ""
    info(f"API key {key.key_id} for {key.analyst_id} ({key.role}{until}): shown once, "
         "store it now.")  # fmt: skip


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key to replace (from `api-keys list`).")],
    grace: Annotated[
        str, typer.Option("--grace", help="How long the old key keeps working: 30m, 1h, 1d.")
    ] = "1h",
    expires_in: ExpiresOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """A new key for the same analyst and role (printed once); the old one stops after --grace."""
    _show_new(state(ctx).app.keys.rotate(key_id, grace=grace, expires_in=expires_in), fmt)


@keys_app.command("list")
def keys_list(ctx: typer.Context, fmt: FormatOpt = Format.table) -> None:
    """List keys (never the keys themselves)."""
    emit(state(ctx).app.keys.all(), fmt, render_keys)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (from `api-keys list`).")],
    fmt: FormatOpt = Format.table,
) -> None:
    """Revoke a key: it stops authenticating at once."""
    emit(state(ctx).app.keys.revoke(key_id), fmt, render_keys)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app."""
    app.add_typer(keys_app, name="api-keys")
