"""The state shared by every command, built once in the root callback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from dk_sentinel.config import Settings
    from dk_sentinel.usecases import Sentinel


@dataclass
class AppState:
    """Built once in the root callback; commands read settings from it lazily."""

    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    creates_warehouse: bool = True
    command: str = ""
    _settings: Settings | None = None
    _app: Sentinel | None = None

    @property
    def settings(self) -> Settings:
        """The settings, loaded on first use (so `--help` never reads config).

        Raises:
            WarehouseUnavailable: The embedded warehouse file does not exist and the command
                does not create one (see ``CREATES_OR_NEEDS_NO_WAREHOUSE``).
        """
        if self._settings is None:
            from dk_sentinel.config import load_settings

            settings = load_settings(self.config, self.overrides)
            if self.command:  # Snowflake's query history shows which command ran a query
                tag = settings.warehouse.snowflake.query_tag
                settings.warehouse.snowflake.query_tag = f"{tag}:{self.command}"
            if not self.creates_warehouse:
                from dk_sentinel.usecases import require_existing

                require_existing(settings)
            self._settings = settings
        return self._settings

    @property
    def app(self) -> Sentinel:
        """The application object, built once on first use from :attr:`settings`."""
        if self._app is None:
            from dk_sentinel.usecases import Sentinel

            self._app = Sentinel(self.settings)
        return self._app


def state(ctx: typer.Context) -> AppState:
    """Return the AppState of the root context."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj
