"""Running the packaged dbt project."""

from __future__ import annotations

from dk_sentinel.config import Settings


def parse_project(settings: Settings) -> str:
    """Parse the packaged dbt project."""
    return "todo"
