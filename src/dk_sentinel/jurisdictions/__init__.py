"""Jurisdiction trigger packs: regulators' rules as data, evaluated by dbt in every run.

A pack (``packs/<name>.toml``, or the operator's own in ``[jurisdictions] packs_dir``) is a
versioned list of triggers: a code, the regulation it cites, a threshold on one of the
documented :data:`MARKERS` over a trailing window, the severity, the action it requires and its
deadline. ``[jurisdictions] states`` maps a player's state (the suffix of the player id) to a
pack; every other state gets ``default_pack``. Before each scoring run the selected rules are
written to ``{ops}.trigger_rules``; the dbt models ``int_player_markers`` and
``rg_fired_triggers`` compute the markers and the triggers that fire, with their evidence.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from dk_sentinel.config import Settings
from dk_sentinel.errors import ConfigError
from dk_sentinel.models import Document, utcnow
from dk_sentinel.warehouse import Warehouse

PACKS_DIR = Path(__file__).parent / "packs"

#: What a trigger may read, each over a trailing window of ``window_days``: the counted ones
#: over every window that ends at one of the player's records, the others (payment methods,
#: the time-on-site rise) over the window ending at the run's as-of (the README's
#: "Jurisdictions and cases" documents each).
Marker = Literal[
    "deposit_amount",  # completed deposits, money
    "deposit_count",  # completed deposits, count
    "declined_deposits",  # deposits declined by the bank or the operator
    "cancelled_withdrawals",  # withdrawals the player cancelled before payout
    "payment_methods",  # distinct payment methods used for deposits
    "limit_increases",  # deposit limits raised or removed
    "self_exclusion_page_views",  # views of the self-exclusion page, none completed
    "rg_contacts",  # the player asked support about their gambling
    "session_hours_rise_pct",  # time on site against the window before, in %
]


class Trigger(Document):
    """One rule of a pack."""

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,39}$")
    regulation: str = Field(min_length=3)
    marker: Marker
    window_days: int = Field(ge=1, le=365)
    comparison: Literal[">", ">="] = ">="
    threshold: float
    severity: Literal["low", "medium", "high"]
    action: Literal["information", "review", "contact", "suspend"]
    deadline_hours: int = Field(ge=1, le=24 * 90)
    reading: Literal["literal", "beyond_population"] = Field(
        default="literal",
        description="literal: the threshold on the player's own figure; beyond_population "
        "(time-on-site rise only): on the player's rise beyond the book's over the same period",
    )
    min_sessions: int = Field(
        default=0, ge=0, description="Time-on-site rise: sessions needed in each period"
    )
    min_prior_hours: float = Field(
        default=0.0, ge=0, description="Time-on-site rise: hours needed in the period before"
    )
    locks_case: bool | None = Field(
        default=None,
        description="Whether its case keeps the player on the list (no marketing, closes only "
        "after clear_days); default: every action but information",
    )


class Pack(Document):
    """A versioned trigger pack."""

    pack: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")
    version: str
    title: str
    status: str
    source: str
    triggers: list[Trigger] = Field(min_length=1)
    suspend_after_failed_contacts: int | None = Field(
        default=None, ge=1, description="Failed contact attempts that suspend the account"
    )
    min_hours_between_failed_contacts: float = Field(
        default=0.0,
        ge=0,
        description="A failed attempt counts toward suspension only this long after the last "
        "one that counted",
    )
    clear_days: int = Field(default=180, ge=1, description="Days clear before a case closes")


def load_pack(name: str, packs_dir: Path | None = None) -> Pack:
    """The pack called ``name``: the operator's ``packs_dir`` first, then the shipped ones.

    Raises:
        ConfigError: No such pack, or it breaks the pack format.
    """
    for folder in (packs_dir, PACKS_DIR):
        path = folder / f"{name}.toml" if folder else None
        if path is not None and path.is_file():
            try:
                pack = Pack.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, ValidationError) as exc:
                first = str(exc).splitlines()[0:3]
                raise ConfigError(f"trigger pack {path} is invalid: {' '.join(first)}") from None
            if pack.pack != name:
                raise ConfigError(f"trigger pack {path} calls itself {pack.pack!r}, not {name!r}")
            return pack
    raise ConfigError(
        f"no trigger pack named {name!r}",
        f"Shipped: {', '.join(sorted(p.stem for p in PACKS_DIR.glob('*.toml')))}; "
        "or add NAME.toml to [jurisdictions] packs_dir.",
    )


def selected_packs(settings: Settings) -> dict[str, Pack]:
    """State (``*``: every other state) -> its pack, as ``[jurisdictions]`` selects them."""
    j = settings.jurisdictions
    out = {state: load_pack(name, j.packs_dir) for state, name in j.states.items()}
    out["*"] = load_pack(j.default_pack, j.packs_dir)
    return out


def publish_rules(wh: Warehouse, settings: Settings) -> int:
    """Write the selected packs' triggers to ``{ops}.trigger_rules`` (replacing the previous).

    Returns:
        How many rules the run will evaluate.
    """
    rows = [
        [state, pack.pack, pack.version, t.code, t.regulation, t.marker, t.window_days,
         t.comparison, t.threshold, t.severity, t.action, t.deadline_hours, utcnow(),
         t.reading, t.min_sessions, t.min_prior_hours,
         t.locks_case if t.locks_case is not None else t.action != "information"]
        for state, pack in selected_packs(settings).items()
        for t in pack.triggers
    ]  # fmt: skip
    marks = ", ".join("(" + ", ".join("?" * len(rows[0])) + ")" for _ in rows)
    with wh.transaction():  # one round trip each, however many rules
        wh.execute("delete from {ops}.trigger_rules")
        wh.execute(
            "insert into {ops}.trigger_rules (state, pack, pack_version, code, regulation, "
            "marker, window_days, comparison, threshold, severity, action, deadline_hours, "
            "published_at, reading, min_sessions, min_prior_hours, locks_case) "
            f"values {marks}",
            [v for row in rows for v in row],
        )
    return len(rows)


__all__ = ["PACKS_DIR", "Marker", "Pack", "Trigger", "load_pack", "publish_rules",
           "selected_packs"]  # fmt: skip
