"""The state shared by every command, built once in the root callback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from dk_sentinel.config import Settings


@dataclass
class AppState:
    """Built once in the root callback; commands read settings from it lazily."""

    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings, loaded on first use (so `--help` never reads config)."""
        if self._settings is None:
            from dk_sentinel.config import load_settings

            self._settings = load_settings(self.config, self.overrides)
        return self._settings


def state(ctx: typer.Context) -> AppState:
    """Return the AppState of the root context."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj
