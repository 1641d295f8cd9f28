"""The evidence of each risk component in plain words, citing its numbers.

The one place a score row's statistics become sentences (``analyze``, the API, the console,
the explainer's fallback): a new component adds its sentence to :func:`evidence_summaries`.
"""

from __future__ import annotations

import math
from typing import Any

from dk_sentinel.config import Settings
from dk_sentinel.vocabulary import Component


def _fmt_pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.0f}%"


_COUNTS = (
    "chased_losses", "chase_settled_losses", "recent_chased_losses", "recent_settled_losses",
    "wins_followed_bigger", "chase_settled_wins", "recent_live_bets", "recent_niche_bets",
    "recent_longshot_bets", "recent_bets_on_new_sports", "recent_late_night_bets",
)  # fmt: skip


def _fmt_count(value: Any) -> str:
    """A count, or n/a on a history row written before the count was recorded (version 1)."""
    return "n/a" if value is None else str(value)


def _fmt_num(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def _ratio(log_value: Any) -> str:
    return "n/a" if log_value is None else f"{math.exp(float(log_value)):.1f}x"


def _session_sentence(row: dict[str, Any]) -> str:
    """Chasing across sessions (scoring v3): the next day's staking after losing days."""
    losing, rise = row.get("losing_days_followed"), row.get("session_chase_rise")
    if not losing or rise is None:
        return ""
    return (
        f"; the day after {losing} losing days the player staked {math.exp(float(rise)):.1f}x "
        f"what they staked after {row.get('other_days_followed') or 0} other days "
        "(each against their own level, shrunk by the days it rests on)"
    )


def _persistence_sentence(row: dict[str, Any], recent_days: int) -> str:
    """Levels read per active day beyond the book's move that day (scoring v3)."""
    if row.get("recent_log_stake_deviation") is None:
        return ""
    return (
        f"; on a typical recent day (median of {row['recent_active_days']} active days, beyond "
        "what the whole book did that day) stakes were "
        f"{_ratio(row['recent_log_stake_deviation'])} "
        f"and bets {_ratio(row.get('recent_log_bets_deviation'))} the player's own, "
        f"{row.get('recent_elevated_days') or 0} of those days elevated; "
        f"{_fmt_num(row['recent_bets_per_active_day'])} bets per active day vs "
        f"{_fmt_num(row['baseline_bets_per_active_day'])}, active {row['recent_active_days']} of "
        f"the last {recent_days} days vs {row['baseline_active_days']} before"
    )


def evidence_summaries(row: dict[str, Any], settings: Settings) -> dict[Component, str]:
    """The evidence of each component in plain words, citing its numbers.

    Args:
        row: A row of ``rg_risk_scores``.
        settings: Settings (window lengths, thresholds used in the wording).

    Returns:
        Component -> one sentence.
    """
    s = settings.scoring
    c = {k: _fmt_count(row.get(k)) for k in _COUNTS}
    chase = (
        f"{c['chased_losses']} of {c['chase_settled_losses']} settled losses in the last "
        f"{s.chase_lookback_days} days ({c['recent_chased_losses']} of "
        f"{c['recent_settled_losses']} in the last {s.recent_window_days}) were followed within "
        f"{s.chase_window_minutes} min by a bet of at least {s.chase_stake_ratio:g}x "
        "the usual stake"
    )
    if row["chased_losses"]:
        chase += (
            f"; those bets were {_fmt_num(row['chase_stake_ratio'])}x the baseline median stake, "
            f"a median {_fmt_num(row['median_minutes_to_chase'], 0)} min after the loss settled"
        )
    chase += (
        f" (after wins: {c['wins_followed_bigger']} of {c['chase_settled_wins']}; "
        f"expected rate {_fmt_pct(row.get('expected_chase_rate'))})"
    )
    chase += _session_sentence(row)
    escalation = (
        f"median stake {_fmt_num(row['recent_median_stake'], 2)} "
        f"in the last {s.recent_window_days} "
        f"days vs {_fmt_num(row['baseline_median_stake'], 2)} before "
        f"({_fmt_num(row['stake_ratio'])}x)"
    )
    escalation += _persistence_sentence(row, s.recent_window_days)
    if row["weekly_stake_growth"] is not None:
        escalation += (
            f"; stake trend over the window {float(row['weekly_stake_growth']) * 100:+.0f}% "
            "per week"
        )
    recent = row["recent_bets"]
    drift = (
        f"live bets {c['recent_live_bets']} of {recent} recent "
        f"({_fmt_pct(row['recent_live_share'])}; "
        f"expected {_fmt_pct(row.get('expected_live_share'))}, "
        f"{_fmt_pct(row['baseline_live_share'])} before); niche sports {c['recent_niche_bets']} "
        f"of {recent} (expected {_fmt_pct(row.get('expected_niche_share'))}); longshots (odds >= "
        f"{s.longshot_odds:g}) {c['recent_longshot_bets']} of {recent} (expected "
        f"{_fmt_pct(row.get('expected_longshot_share'))}); {c['recent_bets_on_new_sports']} of "
        f"{recent} recent bets on sports never bet before"
    )
    temporal = (
        f"late-night ({s.late_night_start_hour:02d}:00-{s.late_night_end_hour:02d}:00 local) bets "
        f"{c['recent_late_night_bets']} of {recent} recent "
        f"({_fmt_pct(row['recent_late_night_share'])}; expected "
        f"{_fmt_pct(row.get('expected_late_night_share'))}, "
        f"{_fmt_pct(row['baseline_late_night_share'])} before)"
    )
    if row.get("recent_median_day_minutes") is not None:
        temporal += (
            f"; a median {_fmt_num(row['recent_median_day_minutes'], 0)} min from first to "
            "last bet on recent active days vs "
            f"{_fmt_num(row.get('baseline_median_day_minutes'), 0)} before"
        )
    if row["gamalyze_risk_score"] is not None:
        gamalyze = (
            f"Gamalyze risk score {_fmt_num(row['gamalyze_risk_score'], 0)}/100 "
            f"assessed {row['gamalyze_assessed_at']:%Y-%m-%d}"
        )
    else:
        gamalyze = f"no Gamalyze assessment in the {s.gamalyze_staleness_days} days before scoring"
    if not row["has_bet_escalation"]:
        escalation = drift = f"absent: fewer than {s.min_baseline_bets} bets in the baseline window"
        if not row.get("has_temporal_risk"):
            temporal = escalation
        else:
            temporal += " (a new account: against the population's share)"
    return {
        "loss_chase": chase,
        "bet_escalation": escalation,
        "market_drift": drift,
        "temporal_risk": temporal,
        "money_behaviour": money_sentence(row, settings),
        "gamalyze": gamalyze,
    }


#: money_behaviour's markers in the order the evidence names them: (column stem, words).
#: Each marker's words; ``{s}`` is the plural's ending (blank for one).
_MONEY_MARKERS = (
    ("deposits_after_loss", "deposit{s} within {minutes} min after a lost bet settled"),
    ("reloads", "deposit{s} within 2 hours of the previous one"),
    ("reversed_withdrawals", "withdrawal{s} reversed (cancelled to keep playing)"),
    ("declined_deposits", "deposit{s} declined"),
    ("limit_raises", "deposit limit raise{s}"),
    ("limit_removals", "deposit limit removal{s}"),
    ("self_exclusion_views", "self-exclusion page view{s}"),
    ("rg_contacts", "contact{s} with RG support"),
)


def _counted(count: int, words: str, **values: Any) -> str:
    """``count`` and ``words`` in the right number: "1 deposit", "2 deposits"."""
    return f"{count} " + words.format(s="" if count == 1 else "s", **values)


def money_sentence(row: dict[str, Any], settings: Settings) -> str:
    """The money and RG-tool evidence of a score row in plain words, with its counts.

    Args:
        row: A row of ``rg_risk_scores`` (scoring v4; older rows have no money statistics).
        settings: Settings (window lengths).

    Returns:
        One sentence: the markers seen in the recent window against the baseline window, or
        why the component is absent.
    """
    if row.get("money_behaviour") is None:
        if row.get("money_recent_deposits") is None:
            return "absent: scored before money and RG-tool evidence was part of the score"
        return "absent: no payments or account events are loaded (money evidence missing)"
    recent = settings.scoring.recent_window_days
    parts: list[str] = []
    for stem, words in _MONEY_MARKERS:
        now = int(row.get(f"money_recent_{stem}") or 0)
        before = int(row.get(f"money_baseline_{stem}") or 0)
        if now or before:
            text = _counted(now, words, minutes=settings.scoring.chase_window_minutes)
            parts.append(f"{text} in the last {recent} days, {before} before")
    methods = int(row.get("money_recent_deposit_methods") or 0)
    if methods > 2:
        parts.append(f"{methods} deposit methods used in the last {recent} days")
    deposits = int(row.get("money_recent_deposits") or 0)
    expected = row.get("money_expected_deposits")
    summary = _counted(deposits, "deposit{s}") + f" in the last {recent} days"
    if expected is not None and not row.get("is_new_account"):
        summary += f" (expected {_fmt_num(expected)} from the player's own past and the book)"
    protective = int(row.get("money_recent_protective_acts") or 0)
    if protective:
        acts = _counted(protective, "protective act{s} (limit set or lowered, timeout)")
        summary += f"; {acts}: protective acts never raise the score"
    if not parts:
        return summary + "; no money or RG-tool risk markers"
    return summary + "; " + "; ".join(parts)
