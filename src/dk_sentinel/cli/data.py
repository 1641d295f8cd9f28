"""Data-engineering commands: generate, ingest, score-batch, runs, demo."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the data commands to the root app."""
