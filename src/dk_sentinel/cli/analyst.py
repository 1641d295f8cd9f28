"""The analyst's commands: analyze, queue, intervene, interventions, export, report, schema."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the analyst commands to the root app."""
