"""Synthetic US sportsbook data with ground truth, for demos, tests and benchmarks.

Everything is vectorised with NumPy (10M bets in well under a minute) and deterministic for a
seed. The files follow the data contract; a separate ``labels.csv`` (player_id, archetype,
is_risk) is for evaluation only -- scoring never reads it.

Behaviour modelled:

* decimal odds by market, outcomes drawn from the implied probability less a bookmaker margin
  (so players lose ~5 % of turnover on average); pushes, voids and cash-outs;
* settlement after placement: live bets within minutes, pre-match within hours to two days,
  futures weeks later; bets not settled by ``as_of`` are ``pending``;
* an evening peak in the player's local time zone (from the state suffix of the player id);
* sessions: most of a day's bets fall within an hour or two of one another, so a bet often
  follows a settlement within minutes whatever the player's intent (the trap a loss-chase
  measure must survive);
* families (``families="core"``: the first eight; ``"all"``: every one): most players
  recreational; risk patterns that start a few weeks before ``as_of`` (loss chasing -- strong,
  moderate, with few losses, or at longshot odds for the usual stake --, session chasing (a
  bigger, busier day after a losing day), stake escalation, frequency escalation (more bets a
  day and more days), a late-night shift, a drift to live / niche / longshot markets) and one
  over the whole history (a slow stake ramp); non-risk lookalikes (stable high stakes,
  consistent winners, sparse players, low-volume recreational players with 1-5 recent bets,
  new joiners, lapsing players, win-chasers who raise their stakes after wins, rebettors who
  bet again right after every settlement -- win or lose -- at their usual stake, returning
  players back from a break of 20-50 days, weekend-heavy players);
* ``season_shift``: a change everyone makes at once in the recent window (a sport whose season
  starts, a night-time tournament, more live betting and more bets a day), which is not
  personal drift;
* ``holiday``: a shared four-day spike ending four days before ``as_of`` (a Thanksgiving-style
  long weekend): 60 % of players take part, with 4-8 times their usual bets a day at twice
  their usual stake, so the book takes about 3.5 times its usual bets on those days;
* ``tournament``: a tournament fortnight (March Madness): a quarter of the players are fans
  who bet one sport (NCAAB) 70 % of the time all season, and twice as often at 1.5 times
  their stakes through the recent window -- a shared event of a cohort, not of the book;
* ``prevalence``: the share of risk players (the risk families' weights scaled to it, the
  others sharing the rest in their usual proportions).

New families and scenarios draw from their own random generator, so the core families give
the same data for a seed as before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from dk_sentinel.models import Document, utcnow
from dk_sentinel.vocabulary import OUTCOME_TYPES

_SEEDS = Path(__file__).parent.parent / "scoring" / "dbt_project" / "seeds"
_STATE_WEIGHTS = {
    "NJ": 8, "NY": 12, "PA": 7, "MA": 5, "MI": 5, "OH": 6, "VA": 4, "IL": 7,
    "CO": 4, "AZ": 5, "TN": 3, "IN": 3, "MD": 3, "LA": 2, "NC": 4, "KS": 2,
}  # fmt: skip


def _local_offsets(states: np.ndarray, epoch: np.ndarray) -> np.ndarray:
    """UTC offset in hours of each bet, from the same seeds the dbt project uses (with DST)."""
    import csv

    with (_SEEDS / "state_timezones.csv").open(encoding="utf-8") as handle:
        zones = {
            r["state"]: (int(r["utc_offset_hours"]), r["observes_dst"] == "true")
            for r in csv.DictReader(handle)
        }
    with (_SEEDS / "us_dst_periods.csv").open(encoding="utf-8") as handle:
        periods = {
            int(r["dst_year"]): (
                np.datetime64(r["dst_starts_at"].replace(" ", "T"))
                .astype("datetime64[s]")
                .astype(np.int64),
                np.datetime64(r["dst_ends_at"].replace(" ", "T"))
                .astype("datetime64[s]")
                .astype(np.int64),
            )
            for r in csv.DictReader(handle)
        }
    offset = np.array([zones.get(s, (-5, True))[0] for s in states])
    observes = np.array([zones.get(s, (-5, True))[1] for s in states])
    year = epoch.astype("datetime64[s]").astype("datetime64[Y]").astype(int) + 1970
    start = np.array([periods.get(y, (0, 0))[0] for y in range(1970, 2101)])[
        np.clip(year - 1970, 0, 130)
    ]
    end = np.array([periods.get(y, (0, 0))[1] for y in range(1970, 2101)])[
        np.clip(year - 1970, 0, 130)
    ]
    return np.asarray(offset + (observes & (epoch >= start) & (epoch < end)).astype(int))


ARCHETYPES: dict[str, float] = {
    "recreational": 0.62,
    "loss_chaser": 0.05,
    "escalator": 0.05,
    "late_night_shift": 0.05,
    "market_drifter": 0.05,
    "high_stakes_stable": 0.06,
    "consistent_winner": 0.06,
    "sparse_bettor": 0.06,
}
#: Every scenario family (``families="all"``): the archetypes above and the harder cases.
FAMILIES: dict[str, float] = {
    "recreational": 0.32,
    "low_volume": 0.08,
    "new_joiner": 0.04,
    "lapsing": 0.03,
    "win_chaser": 0.03,
    "rebettor": 0.02,
    "returning_player": 0.02,
    "weekend_heavy": 0.02,
    "loss_chaser": 0.04,
    "moderate_chaser": 0.03,
    "few_loss_chaser": 0.02,
    "longshot_chaser": 0.02,
    "session_chaser": 0.02,
    "escalator": 0.04,
    "frequency_escalator": 0.02,
    "slow_ramper": 0.02,
    "late_night_shift": 0.04,
    "market_drifter": 0.04,
    "high_stakes_stable": 0.05,
    "consistent_winner": 0.05,
    "sparse_bettor": 0.05,
    "deposit_chaser": 0.03,
    "withdrawal_reverser": 0.03,
    "limit_raiser": 0.03,
    "protective_user": 0.04,
    "big_depositor": 0.03,
}
RISK_ARCHETYPES = frozenset(
    {
        "loss_chaser",
        "moderate_chaser",
        "few_loss_chaser",
        "longshot_chaser",
        "session_chaser",
        "escalator",
        "frequency_escalator",
        "slow_ramper",
        "late_night_shift",
        "market_drifter",
        "deposit_chaser",
        "withdrawal_reverser",
        "limit_raiser",
    }
)
LOOKALIKES = frozenset({"high_stakes_stable", "consistent_winner", "sparse_bettor"})
#: The component each single-pattern risk archetype should drive.
EXPECTED_DRIVER = {
    "loss_chaser": "loss_chase",
    "moderate_chaser": "loss_chase",
    "few_loss_chaser": "loss_chase",
    "longshot_chaser": "loss_chase",
    "session_chaser": "loss_chase",
    "escalator": "bet_escalation",
    "frequency_escalator": "bet_escalation",
    "slow_ramper": "bet_escalation",
    "late_night_shift": "temporal_risk",
    "market_drifter": "market_drift",
    "deposit_chaser": "money_behaviour",
    "withdrawal_reverser": "money_behaviour",
    "limit_raiser": "money_behaviour",
}


class _Chase(NamedTuple):
    """How a chasing family reacts to a settlement (see :func:`_settle_and_chase`)."""

    after: str  # "lost", "won" or "any" (every settled bet)
    chance_lo: float  # chance of a follow-up bet; it rises with the player's intensity
    chance_hi: float
    stake_lo: float  # the follow-up's stake as a multiple of the base stake (uniform)
    stake_hi: float
    delay_lo: int  # minutes after the settlement
    delay_hi: int
    noise: float = 0.0  # > 0: the usual stake x lognormal(noise) instead of a multiple
    longshot: bool = False  # odds uniform 6-25
    from_start: bool = False  # over the whole history, not from the onset


#: How each chasing family reacts to a settlement.
_CHASERS: dict[str, _Chase] = {
    "loss_chaser": _Chase("lost", 0.55, 0.95, 2.0, 4.5, 1, 25),
    "moderate_chaser": _Chase("lost", 0.30, 0.50, 2.0, 3.0, 1, 15),
    "few_loss_chaser": _Chase("lost", 0.60, 0.90, 2.0, 4.0, 1, 20),
    "win_chaser": _Chase("won", 0.50, 0.80, 2.0, 3.5, 1, 20),
    "rebettor": _Chase("any", 0.70, 0.70, 1.0, 1.0, 1, 30, noise=0.35, from_start=True),
    "longshot_chaser": _Chase("lost", 0.50, 0.80, 1.0, 1.0, 5, 40, noise=0.2, longshot=True),
}
_NO_CHASE = _Chase("", 0.0, 0.0, 1.0, 1.0, 1, 1)
#: Days of the holiday spike, counted back from ``as_of`` (days-8 .. days-5 of the history).
_HOLIDAY_FROM, _HOLIDAY_TO = 8, 4
#: A betting day starts at 08:00 UTC (03:00-04:00 Eastern, midnight Pacific).
_DAY_SHIFT = 8 * 3600

MAJOR_SPORTS = np.array(["NFL", "NBA", "MLB", "NHL", "NCAAF", "NCAAB", "SOCCER", "TENNIS", "GOLF"])
NICHE_SPORTS = np.array(["TABLE_TENNIS", "ESPORTS", "MMA", "BOXING", "OTHER"])
MARKETS = np.array(["moneyline", "spread", "total", "prop", "parlay", "futures"])
_MARKET_P = np.array([0.30, 0.25, 0.18, 0.14, 0.10, 0.03])
_MAJOR_P = np.array([0.24, 0.20, 0.14, 0.10, 0.09, 0.08, 0.08, 0.05, 0.02])


class GenerateResult(Document):
    """What :func:`generate` wrote."""

    out_dir: str
    players: int
    bets: int
    assessments: int
    outcomes: int
    files: dict[str, str]
    seconds: float


@dataclass
class _Bets:
    player: np.ndarray
    placed: np.ndarray  # epoch seconds
    stake: np.ndarray
    odds: np.ndarray
    market: np.ndarray  # index into MARKETS
    sport: np.ndarray  # str
    live: np.ndarray  # bool


def _placed_times(
    rng: np.random.Generator,
    player: np.ndarray,
    day: np.ndarray,
    offset_h: np.ndarray,
    late: np.ndarray,
    start: int,
) -> np.ndarray:
    """Epoch seconds: an evening-peaked local hour, or 00:00-05:00 where ``late``.

    Two thirds of a player's bets on a day fall in one session (within about an hour of its
    centre); the others anywhere in the day.
    """
    n = day.size
    _, session = np.unique(player.astype(np.int64) * 100_000 + day, return_inverse=True)
    centre = np.clip(rng.normal(20.0, 2.2, session.max() + 1 if n else 0), 9, 23.0)
    hour = np.where(
        rng.random(n) < 0.75,
        np.clip(rng.normal(20.0, 2.2, n), 9, 23.99),  # evening peak (games)
        rng.uniform(9, 24, n),  # daytime / props
    )
    in_session = rng.random(n) < 0.67
    hour = np.where(in_session, np.clip(centre[session] + rng.normal(0, 0.6, n), 9, 23.99), hour)
    hour = np.where(late, rng.uniform(0, 5, n), hour)
    local = start + day * 86400 + (hour * 3600).astype(np.int64)
    return np.asarray(local - offset_h * 3600)


def _odds(rng: np.random.Generator, market: np.ndarray, longshot: np.ndarray) -> np.ndarray:
    n = market.size
    odds = np.select(
        [market <= 2, market == 3, market == 4, market == 5],
        [
            np.exp(rng.normal(np.log(1.91), 0.22, n)),
            np.exp(rng.normal(np.log(2.2), 0.35, n)),
            np.exp(rng.normal(np.log(6.0), 0.6, n)),
            np.exp(rng.normal(np.log(12.0), 0.7, n)),
        ],
    )
    odds = np.where(longshot, rng.uniform(6.0, 25.0, n), odds)
    return np.asarray(np.round(np.clip(odds, 1.05, 200.0), 2))


Families = Literal["core", "all"]


def family_weights(
    families: Families = "core", prevalence: float | None = None
) -> dict[str, float]:
    """The share of players drawn from each family.

    Args:
        families: ``core`` (the eight archetypes) or ``all`` (every scenario family).
        prevalence: Total share of the risk families (their weights scaled to it, the others
            sharing the rest in their usual proportions); ``None`` keeps the usual mix.

    Returns:
        Family name to weight (the weights sum to 1).

    Raises:
        ValueError: ``prevalence`` is not between 0 and 1.
    """
    mix = ARCHETYPES if families == "core" else FAMILIES
    if prevalence is None:
        total = sum(mix.values())
        return {name: w / total for name, w in mix.items()}
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be between 0 and 1, not {prevalence}")
    risk = sum(w for name, w in mix.items() if name in RISK_ARCHETYPES)
    rest = sum(w for name, w in mix.items() if name not in RISK_ARCHETYPES)
    return {
        name: w * prevalence / risk if name in RISK_ARCHETYPES else w * (1.0 - prevalence) / rest
        for name, w in mix.items()
    }


def generate_frames(
    players: int,
    days: int,
    seed: int,
    as_of: datetime,
    families: Families = "core",
    season_shift: bool = False,
    holiday: bool = False,
    prevalence: float | None = None,
    tournament: bool = False,
) -> dict[str, Any]:
    """Generate the contract tables as Arrow tables (no files).

    Args:
        players: Number of players.
        days: Days of history before ``as_of``.
        seed: Random seed (same seed, same data).
        as_of: End of the generated history (UTC, naive).
        families: ``core`` (the eight archetypes) or ``all`` (every scenario family).
        season_shift: Everyone changes at once in the last 14 days (see the module doc).
        holiday: A shared four-day spike ending four days before ``as_of`` (see the module doc).
        prevalence: Share of risk players; ``None`` keeps the families' usual weights.
        tournament: A quarter of the players are fans of one sport (see the module doc), who
            bet twice as often at 1.5x their stakes through the recent window.

    Returns:
        ``{"bets": ..., "assessments": ..., "outcomes": ..., "labels": ...}`` Arrow tables.
    """
    import pyarrow as pa

    mix = family_weights(families, prevalence)
    rng = np.random.default_rng(seed)
    # The newer families and scenarios draw from their own generator: the draws of ``rng`` stay
    # those of the core families, which therefore give the same data as before for a seed.
    rng2 = np.random.default_rng(seed + 1000)
    start_dt = (as_of - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = int(start_dt.replace(tzinfo=UTC).timestamp())
    end = int(as_of.replace(tzinfo=UTC).timestamp())
    shift_day = (end - start) // 86400 - 14  # first day of the recent window

    names = np.array(list(mix))
    arch = rng.choice(names.size, players, p=np.array(list(mix.values())))
    archetype = names[arch]
    states = np.array(list(_STATE_WEIGHTS))
    sw = np.array(list(_STATE_WEIGHTS.values()), dtype=float)
    state = rng.choice(states, players, p=sw / sw.sum())
    ids = rng.permutation(np.arange(1000, 1000 + max(players * 3, 1000)))[:players]
    player_id = np.char.add(
        np.char.add("PLR_", np.char.zfill(ids.astype(str), 4)), np.char.add("_", state)
    )

    base_stake = np.exp(rng.normal(np.log(20.0), 0.8, players))
    base_stake = np.where(
        archetype == "high_stakes_stable", rng.uniform(400, 2500, players), base_stake
    )
    rate = np.exp(rng.normal(np.log(1.0), 0.6, players))  # bets per day
    rate = np.where(archetype == "sparse_bettor", rng.uniform(0.02, 0.08, players), rate)
    rate = np.where(archetype == "high_stakes_stable", rate * 0.8, rate)
    rate = np.where(archetype == "low_volume", rng.uniform(0.07, 0.35, players), rate)
    rate = np.where(archetype == "few_loss_chaser", rng.uniform(0.25, 0.5, players), rate)
    rate = np.where(archetype == "session_chaser", rng2.uniform(1.5, 4.0, players), rate)
    # new joiners start 5-30 days before as_of; lapsing players drop to a fifth 10-40 days before
    first_day = np.where(
        archetype == "new_joiner", np.maximum(days - rng.integers(5, 31, players), 0), 0
    )
    lapse_day = np.where(archetype == "lapsing", days - rng.integers(10, 41, players), days)
    live_p = np.clip(rng.beta(2, 6, players), 0.02, 0.9)
    niche_p = np.clip(rng.beta(1, 25, players), 0, 0.3)
    longshot_p = np.clip(rng.beta(1, 20, players), 0, 0.3)
    late_p = np.clip(rng.beta(1, 30, players), 0, 0.2)
    onset_day = days - rng.integers(18, 35, players)  # pattern starts 18-35 days before as_of
    onset_day = np.maximum(onset_day, days // 3)
    intensity = rng.uniform(0.6, 1.0, players)  # strength of the risk pattern

    # ---- base bets -------------------------------------------------------------------------
    counts = rng.poisson(rate * (days - first_day))
    counts = np.where(archetype == "sparse_bettor", np.clip(counts, 2, 8), np.maximum(counts, 1))
    p = np.repeat(np.arange(players), counts)
    n = p.size
    day = first_day[p] + (rng.random(n) * (days - first_day[p])).astype(np.int64)
    lapsed = (day >= lapse_day[p]) & (rng.random(n) < 0.8)
    if season_shift:  # everyone bets 30 % more in the recent window
        extra = np.flatnonzero((day >= shift_day) & (rng.random(n) < 0.3))
        p, day = np.concatenate([p, p[extra]]), np.concatenate([day, day[extra]])
        lapsed = np.concatenate([lapsed, lapsed[extra]])
    p, day = p[~lapsed], day[~lapsed]
    # a tournament fortnight: fans of one sport (a quarter of the players, drawn from their own
    # generator) bet twice as often through the recent window
    rng3 = np.random.default_rng(seed + 2000)
    fan = (rng3.random(players) < 0.25) if tournament else np.zeros(players, bool)
    if tournament:
        extra = np.flatnonzero(fan[p] & (day >= shift_day))
        p, day = np.concatenate([p, p[extra]]), np.concatenate([day, day[extra]])
    p, day, on_holiday = _family_days(
        rng2, p, day, archetype, rate, first_day, lapse_day, onset_day, intensity, days,
        start_dt.weekday(), holiday,
    )  # fmt: skip
    n = p.size
    a = archetype[p]
    active = day >= onset_day[p]
    season = season_shift & (day >= shift_day)
    late = rng.random(n) < np.where(
        (a == "late_night_shift") & active, 0.45 + 0.4 * intensity[p], late_p[p] + 0.12 * season
    )
    drifting = (a == "market_drifter") & active
    live = rng.random(n) < np.where(
        drifting, np.maximum(live_p[p], 0.7), np.minimum(live_p[p] + 0.12 * season, 0.95)
    )
    niche = rng.random(n) < np.where(drifting, 0.35 + 0.3 * intensity[p], niche_p[p])
    longshot = rng.random(n) < np.where(drifting, 0.3 + 0.3 * intensity[p], longshot_p[p])
    # late-night and heavy-intensity shift: more bets per active day after onset
    market = rng.choice(MARKETS.size, n, p=_MARKET_P)
    market = np.where(live & (market == 5), 0, market)  # no live futures
    sport = np.where(niche, rng.choice(NICHE_SPORTS, n), rng.choice(MAJOR_SPORTS, n, p=_MAJOR_P))
    if season_shift:  # NFL is off-season in the baseline, then 35 % of major-sport bets
        other = rng.choice(MAJOR_SPORTS[1:], n, p=_MAJOR_P[1:] / _MAJOR_P[1:].sum())
        sport = np.where((sport == "NFL") & ~season, other, sport)
        sport = np.where(season & ~niche & (rng.random(n) < 0.35), "NFL", sport)
    if tournament:  # fans bet their sport most of the time, all season
        sport = np.where(fan[p] & ~niche & (rng3.random(n) < 0.7), "NCAAB", sport)
    approx = start + day * 86400 + 12 * 3600  # noon UTC of the bet's day decides DST
    placed = _placed_times(rng, p, day, _local_offsets(state[p], approx), late, start)
    stake = base_stake[p] * np.exp(rng.normal(0, 0.35, n))
    escal = (a == "escalator") & active
    growth = np.clip((day - onset_day[p]) / np.maximum(days - onset_day[p], 1), 0, 1)
    stake = np.where(escal, stake * np.exp(growth * np.log(2.0 + 4.0 * intensity[p])), stake)
    stake = np.where(
        a == "high_stakes_stable", base_stake[p] * np.exp(rng.normal(0, 0.2, n)), stake
    )
    ramp = rng2.uniform(1.6, 2.5, players)  # slow ramper: total growth over the history
    stake = np.where(a == "slow_ramper", stake * ramp[p] ** (day / max(days, 1)), stake)
    # the money families' bets change only a little: stakes up to 1.3x by the end
    money_risk = np.isin(a, MONEY_RISK_FAMILIES) & active
    stake = np.where(money_risk, stake * np.exp(growth * np.log(1.3)), stake)
    stake = np.where(on_holiday, 2.0 * stake, stake)
    stake = np.where(fan[p] & (day >= shift_day), 1.5 * stake, stake)
    keep = placed < end  # an evening in a western state can fall after as_of in UTC
    bets = _Bets(
        p[keep],
        placed[keep],
        stake[keep],
        _odds(rng, market, longshot)[keep],
        market[keep],
        sport[keep],
        live[keep],
    )
    bets, status, settled, payout = _settle_and_chase(
        rng, rng2, bets, archetype, onset_day, intensity, base_stake, start, end
    )
    bets, status, settled, payout = _session_chase(
        rng2, bets, status, settled, payout, archetype, onset_day, intensity, base_stake, start, end
    )
    order = np.lexsort((bets.placed, bets.player))
    m = order.size
    bet_ids = np.char.add("B", np.char.zfill(np.arange(1, m + 1).astype(str), 9))

    def ts(seconds: np.ndarray) -> Any:
        return pa.array(seconds.astype("datetime64[s]"), pa.timestamp("s"))

    settled_o = settled[order]
    bets_table = pa.table(
        {
            "bet_id": bet_ids,
            "player_id": player_id[bets.player[order]],
            "placed_at": ts(bets.placed[order]),
            "settled_at": pa.array(
                settled_o.astype("datetime64[s]"), pa.timestamp("s"), mask=settled_o < 0
            ),
            "sport": bets.sport[order],
            "market": MARKETS[bets.market[order]],
            "is_live": bets.live[order],
            "odds_decimal": bets.odds[order],
            "stake": np.round(bets.stake[order], 2),
            "payout": pa.array(np.round(payout[order], 2), mask=np.isnan(payout[order])),
            "status": status[order],
        }
    )

    # ---- Gamalyze assessments ----------------------------------------------------------------
    has = rng.random(players) < 0.35
    risk = np.isin(archetype, list(RISK_ARCHETYPES))
    score = np.where(risk, rng.normal(68, 12, players), rng.normal(30, 14, players))
    score = np.round(np.clip(score, 0, 100), 1)
    age_days = np.where(
        rng.random(players) < 0.8, rng.uniform(1, 120, players), rng.uniform(200, 400, players)
    )
    idx = np.flatnonzero(has)
    assessed = end - (age_days[idx] * 86400).astype(np.int64)

    def sub() -> np.ndarray:
        return np.round(np.clip(score[idx] + rng.normal(0, 10, idx.size), 0, 100), 1)

    assessments = pa.table(
        {
            "assessment_id": np.char.add(
                "GA", np.char.zfill(np.arange(1, idx.size + 1).astype(str), 8)
            ),
            "player_id": player_id[idx],
            "assessed_at": ts(assessed),
            "risk_score": score[idx],
            "sensitivity_to_loss": sub(),
            "sensitivity_to_reward": sub(),
            "risk_tolerance": sub(),
            "decision_consistency": np.round(
                np.clip(100 - score[idx] + rng.normal(0, 10, idx.size), 0, 100), 1
            ),
        }
    )

    # ---- outcomes (later events, for backtesting) -----------------------------------------
    # Half the risk players reach an RG event 3-40 days after their pattern starts (those
    # that would fall after as_of are not written: not yet happened); 3 % of everyone else
    # at any time of the period.
    o_idx = np.flatnonzero(rng.random(players) < np.where(risk, 0.5, 0.03))
    event_at = np.where(
        risk[o_idx],
        start + onset_day[o_idx] * 86400 + rng.integers(3 * 86400, 40 * 86400, o_idx.size),
        rng.integers(start, end, o_idx.size),
    )
    o_idx, event_at = o_idx[event_at <= end], event_at[event_at <= end]
    kinds = np.array(OUTCOME_TYPES)
    outcomes = pa.table(
        {
            "player_id": player_id[o_idx],
            "event_at": ts(event_at),
            "event_type": rng.choice(kinds, o_idx.size, p=[0.3, 0.1, 0.3, 0.2, 0.1]),
        }
    )
    labels = pa.table({"player_id": player_id, "archetype": archetype, "is_risk": risk})
    payments, account_events = _money(
        np.random.default_rng([seed, 26]),
        player_id,
        archetype,
        risk,
        start + onset_day * 86400,
        intensity,
        base_stake,
        bets,
        status,
        settled,
        start,
        end,
    )  # its own random stream: the bets of a seed are the same with or without it
    return {"bets": bets_table, "assessments": assessments, "outcomes": outcomes,
            "payments": payments, "account_events": account_events, "labels": labels}  # fmt: skip


#: Money and RG-tool families (data contract v1.1). At risk: players whose harm shows first in
#: how they fund their play (Hopfgartner et al. 2023; Ukhov et al. 2020): re-depositing right
#: after losses, reversing withdrawals to keep playing, raising and removing deposit limits
#: while reading the self-exclusion page. Their bets change only a little. Not at risk: players
#: who use the protective tools (a limit set and lowered, a timeout) and large, steady
#: depositors with several methods.
MONEY_RISK_FAMILIES = ("deposit_chaser", "withdrawal_reverser", "limit_raiser")
MONEY_LOOKALIKES = ("protective_user", "big_depositor")


def _money(
    rng: np.random.Generator,
    player_id: np.ndarray,
    archetype: np.ndarray,
    risk: np.ndarray,
    onset: np.ndarray,
    intensity: np.ndarray,
    base_stake: np.ndarray,
    bets: _Bets,
    status: np.ndarray,
    settled: np.ndarray,
    start: int,
    end: int,
) -> tuple[Any, Any]:
    """Payments and account events (data contract v1.1) consistent with each player's kind.

    Everyone funds their play: a deposit shortly before the first bet of some active days
    (a quarter on average), one card for most players (two or three for a third), now and
    then a declined deposit retried minutes later, now and then a reload right after a losing
    bet (a bust, not a pattern), a withdrawal after a good run, and the RG tools a few use
    (a limit set or raised once, a page read, a timeout). Bet-pattern risk families fund
    their harm too, moderately, after their onset (more deposits, more reloads after losses,
    some reversed withdrawals and limit raises). The money families of
    ``MONEY_RISK_FAMILIES`` show their marker strongly and their bets only a little; the
    ``MONEY_LOOKALIKES`` look busy with money or tools and are not at risk.
    """
    rows: dict[str, list[Any]] = {k: [] for k in ("payment_id", "player_id", "requested_at",
                                                  "completed_at", "kind", "status", "amount",
                                                  "method_id")}  # fmt: skip
    events: dict[str, list[Any]] = {k: [] for k in ("event_id", "player_id", "occurred_at",
                                                    "event_type", "value", "period")}  # fmt: skip
    pay_n, event_n = 0, 0

    def payment(pid: str, at: int, kind: str, status_: str, amount: float, method: str,
                done_after: int) -> None:  # fmt: skip
        nonlocal pay_n
        if at >= end:
            return
        pay_n += 1
        done = None if status_ in ("pending", "declined") else min(at + done_after, end)
        for key, value in (("payment_id", f"PAY{pay_n:09d}"), ("player_id", pid),
                           ("requested_at", at), ("completed_at", done), ("kind", kind),
                           ("status", status_), ("amount", round(amount, 2)),
                           ("method_id", method)):  # fmt: skip
            rows[key].append(value)

    def event(pid: str, at: int, kind: str, value: float | None = None,
              period: str | None = None) -> None:  # fmt: skip
        nonlocal event_n
        if at >= end:
            return
        event_n += 1
        for key, v in (("event_id", f"EV{event_n:09d}"), ("player_id", pid), ("occurred_at", at),
                       ("event_type", kind), ("value", value), ("period", period)):  # fmt: skip
            events[key].append(v)

    order = np.argsort(bets.player, kind="stable")
    bounds = np.searchsorted(bets.player[order], np.arange(player_id.size + 1))
    for i, pid in enumerate(player_id):
        mine = order[bounds[i] : bounds[i + 1]]
        fam, harmful_from = str(archetype[i]), int(onset[i]) if risk[i] else end
        strength = float(intensity[i])
        n_methods = 1 + int(rng.random() < 0.35) + int(rng.random() < 0.08)
        if fam == "big_depositor":
            n_methods = 2 + int(rng.random() < 0.5)
        methods = [f"{pid}-M{k}" for k in range(1, 6)]
        size = max(20.0, float(base_stake[i]) * 4)
        if fam == "big_depositor":
            size *= 8
        placed = np.sort(bets.placed[mine])
        day_first = placed[np.r_[True, np.diff(placed // 86400) > 0]] if placed.size else placed
        p_deposit = float(rng.beta(2, 6))  # share of active days with a deposit first
        for first in day_first:
            harmful = first >= harmful_from
            chance = min(0.9, p_deposit * (1.8 if harmful else 1.0))
            if rng.random() >= chance:
                continue
            at = int(first - rng.integers(60, 1800))
            method = methods[rng.integers(0, n_methods + (1 if harmful else 0))]
            amount = float(rng.lognormal(np.log(size * (1.5 if harmful else 1.0)), 0.6))
            if rng.random() < (0.08 if harmful else 0.03):  # declined, retried minutes later
                payment(pid, at, "deposit", "declined", amount, method, 0)
                if rng.random() < 0.7:
                    payment(pid, at + int(rng.integers(60, 600)), "deposit", "completed",
                            amount, methods[rng.integers(0, n_methods)], 5)  # fmt: skip
            else:
                payment(pid, at, "deposit", "completed", amount, method, 5)
            length = rng.uniform(0.3, 1.5) * (2.0 if harmful else 1.0)
            event(pid, at, "session_started")
            event(pid, int(at + length * 3600), "session_ended")
        # reloads right after a lost bet settled: a rare bust for anyone, a pattern for the
        # deposit chasers (and, less, for the other risk families) once harm starts
        lost = settled[mine][(status[mine] == "lost") & (settled[mine] > 0)]
        last_reload = -(10**12)
        for at_loss in np.sort(lost):
            harmful = at_loss >= harmful_from
            if fam == "deposit_chaser" and harmful:
                chance = 0.25 + 0.45 * strength
            elif harmful:
                chance = 0.06
            else:
                chance = 0.012
            if rng.random() >= chance or at_loss - last_reload < 3600:
                continue
            last_reload = int(at_loss)
            at = int(at_loss + rng.integers(120, 50 * 60))
            payment(pid, at, "deposit", "completed", float(rng.lognormal(np.log(size), 0.5)),
                    methods[rng.integers(0, n_methods)], 5)  # fmt: skip
        # withdrawals after a good run; reversed (cancelled to keep playing) by those at risk
        span_weeks = (end - start) / (7 * 86400)
        per_week = 0.08 + (0.15 if fam == "big_depositor" else 0.0)
        for at in np.sort(rng.integers(start, end, rng.poisson(per_week * span_weeks))):
            harmful = at >= harmful_from
            cancel = 0.05 + (0.25 if harmful else 0.0)
            amount = float(rng.lognormal(np.log(size * 2), 0.5))
            if rng.random() < cancel:
                payment(pid, int(at), "withdrawal", "pending", amount, methods[0], 0)
                payment(pid, int(at), "withdrawal", "cancelled", amount, methods[0],
                        int(rng.integers(600, 86400)))  # fmt: skip
            else:
                payment(pid, int(at), "withdrawal", "completed", amount, methods[0], 86400)
        if fam == "withdrawal_reverser" and risk[i]:
            weeks = (end - harmful_from) / (7 * 86400)
            count = rng.poisson((0.8 + 1.2 * strength) * weeks)
            for at in np.sort(rng.integers(harmful_from, end, count)):
                amount = float(rng.lognormal(np.log(size * 2), 0.5))
                payment(pid, int(at), "withdrawal", "pending", amount, methods[0], 0)
                if rng.random() < 0.6 + 0.3 * strength:
                    payment(pid, int(at), "withdrawal", "cancelled", amount, methods[0],
                            int(rng.integers(600, 12 * 3600)))  # fmt: skip
                else:
                    payment(pid, int(at), "withdrawal", "completed", amount, methods[0], 86400)

        # the RG tools: what a few ordinary players do once, what the families do repeatedly
        def some(chance: float, kind: str, value: float | None = None, lo: int = start,
                 period: str | None = None, pid: str = str(pid)) -> None:  # fmt: skip
            if rng.random() < chance:
                event(pid, int(rng.integers(lo, end)), kind, value, period)

        some(0.10, "deposit_limit_set", round(size * 10, -1), period="week")
        some(0.04, "deposit_limit_increased", round(size * 20, -1), period="week")
        some(0.01, "deposit_limit_removed")
        some(0.02, "deposit_limit_decreased", round(size * 5, -1), period="week")
        some(0.10, "rg_page_viewed")
        some(0.03, "self_exclusion_page_viewed")
        some(0.02, "timeout_started", 24.0)
        some(0.004, "contact_rg")
        if risk[i]:
            some(0.20, "deposit_limit_increased", round(size * 30, -1), harmful_from, "week")
            some(0.15, "self_exclusion_page_viewed", lo=harmful_from)
        if fam == "limit_raiser" and risk[i]:
            raises = 2 + rng.poisson(1.0 + 2.0 * strength)
            for k, at in enumerate(np.sort(rng.integers(harmful_from, end, raises))):
                event(pid, int(at), "deposit_limit_increased", round(size * 20 * (k + 2), -1),
                      "week")  # fmt: skip
            some(0.5, "deposit_limit_removed", lo=harmful_from)
            for at in rng.integers(harmful_from, end, 1 + rng.poisson(1.5 * strength)):
                event(pid, int(at), "self_exclusion_page_viewed")
            some(0.3, "contact_rg", lo=harmful_from)
        if fam == "protective_user":
            event(pid, int(rng.integers(start, end)), "deposit_limit_set", round(size * 10, -1),
                  "week")  # fmt: skip
            for at in rng.integers(start, end, 1 + rng.poisson(1.0)):
                event(pid, int(at), "deposit_limit_decreased", round(size * 5, -1), "week")
            for at in rng.integers(start, end, 1 + rng.poisson(0.7)):
                event(pid, int(at), "timeout_started", float(rng.choice([24, 72, 168])))
            some(0.5, "rg_page_viewed")
            some(0.3, "self_exclusion_page_viewed")

    import pyarrow as pa

    def table(columns: dict[str, list[Any]], stamps: tuple[str, ...]) -> Any:
        data: dict[str, Any] = {}
        for key, values in columns.items():
            if key in stamps:
                data[key] = pa.array([None if v is None else v * 1_000_000 for v in values],
                                     pa.timestamp("us"))  # fmt: skip
            else:
                data[key] = values
        return pa.table(data)

    return (table(rows, ("requested_at", "completed_at")),
            table(events, ("occurred_at",)))  # fmt: skip


def _settle_and_chase(
    rng: np.random.Generator,
    rng2: np.random.Generator,
    bets: _Bets,
    archetype: np.ndarray,
    onset_day: np.ndarray,
    intensity: np.ndarray,
    base_stake: np.ndarray,
    start: int,
    end: int,
) -> tuple[_Bets, np.ndarray, np.ndarray, np.ndarray]:
    """Settle bets; chasing families add fast follow-up bets after settlements (two rounds).

    Loss chasers react to losses with bigger stakes, win-chasers to wins, longshot chasers to
    losses with their usual stake at long odds, rebettors to every settlement with their usual
    stake (see ``_CHASERS``). What the newer families add is drawn from ``rng2``, so the draws
    of ``rng`` are those of the core families.
    """
    status, settled, payout = _settle(rng, bets, archetype, end)
    all_parts = [(bets, status, settled, payout)]
    current, cur_status, cur_settled = bets, status, settled
    per_player = [_CHASERS.get(str(a), _NO_CHASE) for a in archetype]
    after = np.array([c.after for c in per_player])
    lo, hi, m_lo, m_hi, d_lo, d_hi, noise, longshot, from_start = (
        np.array([c[i] for c in per_player]) for i in range(1, 10)
    )
    chase_from = np.where(from_start, 0, onset_day)
    for _round in range(2):
        pl_all = current.player
        day = (cur_settled - start) // 86400
        chance = lo[pl_all] + (hi[pl_all] - lo[pl_all]) * intensity[pl_all]
        trigger = (cur_status == after[pl_all]) | (
            (after[pl_all] == "any") & (cur_status != "pending")
        )
        chase = (
            trigger
            & (cur_settled > 0)
            & (day >= chase_from[pl_all])
            & (rng.random(pl_all.size) < chance)
        )
        idx = np.flatnonzero(chase)
        if idx.size == 0:
            break
        pl = current.player[idx]
        placed = cur_settled[idx] + (rng.uniform(d_lo[pl], d_hi[pl]) * 60).astype(np.int64)
        keep = placed < end
        idx, pl, placed = idx[keep], pl[keep], placed[keep]
        k = idx.size
        market = rng.choice(3, k)
        stake = base_stake[pl] * rng.uniform(m_lo[pl], m_hi[pl])
        odds = _odds(rng, market, np.zeros(k, bool))
        if (noise[pl] > 0).any() or longshot[pl].any():  # only the newer families
            usual = base_stake[pl] * np.exp(rng2.normal(0.0, 1.0, k) * noise[pl])
            stake = np.where(noise[pl] > 0, usual, stake)
            odds = np.where(longshot[pl], np.round(rng2.uniform(6.0, 25.0, k), 2), odds)
        new = _Bets(pl, placed, stake, odds, market, current.sport[idx], rng.random(k) < 0.6)
        n_status, n_settled, n_payout = _settle(rng, new, archetype, end)
        all_parts.append((new, n_status, n_settled, n_payout))
        current, cur_status, cur_settled = new, n_status, n_settled
    fields = ("player", "placed", "stake", "odds", "market", "sport", "live")
    merged = _Bets(*(np.concatenate([getattr(part[0], f) for part in all_parts]) for f in fields))
    status, settled, payout = (np.concatenate([part[i] for part in all_parts]) for i in (1, 2, 3))
    return merged, status, settled, payout


def _schedule(
    rng: np.random.Generator,
    who: np.ndarray,
    day_lo: np.ndarray,
    day_hi: np.ndarray,
    p_active: np.ndarray,
    per_active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Bets day by day for players ``who`` on days ``day_lo`` .. ``day_hi - 1`` (per player).

    A player is active on a day with chance ``p_active`` and then places 1 + Poisson
    (``per_active`` - 1) bets; ``p_active`` and ``per_active`` are indexed by player.

    Returns:
        The player and the day of each bet.
    """
    span = np.maximum(day_hi - day_lo, 0)
    pl = np.repeat(who, span)
    day = np.repeat(day_lo, span) + np.arange(pl.size) - np.repeat(np.cumsum(span) - span, span)
    active = rng.random(pl.size) < p_active[pl]
    count = active * (1 + rng.poisson(np.maximum(per_active[pl] - 1.0, 0.0)))
    return np.repeat(pl, count), np.repeat(day, count)


def _family_days(
    rng: np.random.Generator,
    p: np.ndarray,
    day: np.ndarray,
    archetype: np.ndarray,
    rate: np.ndarray,
    first_day: np.ndarray,
    lapse_day: np.ndarray,
    onset_day: np.ndarray,
    intensity: np.ndarray,
    days: int,
    weekday0: int,
    holiday: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The betting days of the newer families and of the holiday spike.

    Rebettors bet on most days, several bets each; frequency escalators bet on more days and
    2.5-4 times as often a day from their onset; weekend-heavy players place their bets on
    Saturdays and Sundays 3-6 times as often a day as on weekdays; returning players take a
    break of 20-50 days in the baseline. In the holiday, 60 % of the players are active on each
    of its days with chance 0.9 and place 4-8 times their usual bets a day.

    Args:
        rng: The generator of the newer families.
        p: Player index of each base bet.
        day: Day of each base bet (local, from the start of the history).
        archetype: Family of each player.
        rate: Usual bets a day of each player.
        first_day: First day each player can bet.
        lapse_day: Day a lapsing player drops to a fifth.
        onset_day: Day each player's risk pattern starts.
        intensity: Strength of each player's risk pattern (0.6-1.0).
        days: Days of history.
        weekday0: Weekday of day 0 (Monday 0).
        holiday: Whether to add the holiday spike.

    Returns:
        Player and day of every bet, and whether the holiday spike placed it.
    """
    players = archetype.size
    who_all = np.arange(players)
    strength = (intensity - 0.6) / 0.4  # 0-1
    rate = rate.copy()
    # rebettors: active on 75-90 % of days, 2.5-5.5 bets a day before their re-bets
    reb = archetype == "rebettor"
    reb_active, reb_per = rng.uniform(0.75, 0.9, players), rng.uniform(2.5, 5.5, players)
    if reb.any():
        keep = ~reb[p]
        new_p, new_day = _schedule(
            rng, who_all[reb], first_day[reb], np.full(reb.sum(), days), reb_active, reb_per
        )
        p, day = np.concatenate([p[keep], new_p]), np.concatenate([day[keep], new_day])
    rate = np.where(reb, reb_active * reb_per, rate)
    # frequency escalators: from the onset, more active days and 2.5-4x the bets a day
    fe = archetype == "frequency_escalator"
    usual_active = 1.0 - np.exp(-rate)
    fe_active = usual_active + (1.0 - usual_active) * 0.5
    fe_per = (2.5 + 1.5 * strength) * rate / np.maximum(usual_active, 1e-9)
    if fe.any():
        keep = ~(fe[p] & (day >= onset_day[p]))
        start_day = np.maximum(onset_day[fe], first_day[fe])
        new_p, new_day = _schedule(
            rng, who_all[fe], start_day, np.full(fe.sum(), days), fe_active, fe_per
        )
        p, day = np.concatenate([p[keep], new_p]), np.concatenate([day[keep], new_day])
    rate = np.where(fe, fe_active * fe_per, rate)
    # weekend-heavy players: each bet on a Saturday or Sunday with odds 2R : 5 (R = 3-6)
    ratio = rng.uniform(3.0, 6.0, players)
    weekday = (weekday0 + np.arange(days)) % 7
    weekend_days, week_days = np.flatnonzero(weekday >= 5), np.flatnonzero(weekday < 5)
    wh = np.flatnonzero(archetype[p] == "weekend_heavy")
    if wh.size and weekend_days.size and week_days.size:
        r = ratio[p[wh]]
        on_weekend = rng.random(wh.size) < 2 * r / (5 + 2 * r)
        day = day.copy()
        day[wh] = np.where(
            on_weekend,
            weekend_days[rng.integers(0, weekend_days.size, wh.size)],
            week_days[rng.integers(0, week_days.size, wh.size)],
        )
    # returning players: no bets for 20-50 days inside the baseline (days 0 .. days-14), after
    # at least a week of ordinary betting where the history is long enough
    baseline = max(days - 14, 0)
    lead_in = min(7, max(baseline - 20, 0))
    gap = np.minimum(rng.integers(20, 51, players), baseline - lead_in)
    gap_from = lead_in + (rng.random(players) * (baseline - lead_in - gap + 1)).astype(np.int64)
    away = (
        (archetype[p] == "returning_player") & (day >= gap_from[p]) & (day < gap_from[p] + gap[p])
    )
    p, day = p[~away], day[~away]
    on_holiday = np.zeros(p.size, bool)
    if holiday:
        spike = np.arange(max(days - _HOLIDAY_FROM, 0), max(days - _HOLIDAY_TO, 0))
        joins = (rng.random(players) < 0.6) & (first_day <= spike.min(initial=days))
        factor = rng.uniform(4.0, 8.0, players)
        keep = ~(joins[p] & np.isin(day, spike))
        pl = np.repeat(np.flatnonzero(joins), spike.size)
        d = np.tile(spike, int(joins.sum()))
        mean = factor[pl] * rate[pl] * np.where(d >= lapse_day[pl], 0.2, 1.0)
        count = (rng.random(pl.size) < 0.9) * rng.poisson(mean)
        new_p, new_day = np.repeat(pl, count), np.repeat(d, count)
        p, day = np.concatenate([p[keep], new_p]), np.concatenate([day[keep], new_day])
        on_holiday = np.concatenate([on_holiday[keep], np.ones(new_p.size, bool)])
    return p, day, on_holiday


def _session_chase(
    rng: np.random.Generator,
    bets: _Bets,
    status: np.ndarray,
    settled: np.ndarray,
    payout: np.ndarray,
    archetype: np.ndarray,
    onset_day: np.ndarray,
    intensity: np.ndarray,
    base_stake: np.ndarray,
    start: int,
    end: int,
) -> tuple[_Bets, np.ndarray, np.ndarray, np.ndarray]:
    """Session chasers play the next active day after a losing day bigger and busier.

    From the onset, a day follows a losing day (the net of its settled bets below zero, on the
    bets as first drawn) gets its stakes raised 2-3 times (with the player's intensity) and
    1.5-3 times the bets (the extra ones like the day's others). A betting day starts at 08:00
    UTC (see ``_DAY_SHIFT``).

    Returns:
        The bets with the changes and the extra bets, and their status, settlement and payout.
    """
    sc = np.flatnonzero(archetype[bets.player] == "session_chaser")
    if sc.size == 0:
        return bets, status, settled, payout
    players = archetype.size
    pl = bets.player[sc]
    bday = (bets.placed[sc] - start - _DAY_SHIFT) // 86400 + 1  # >= 0
    pairs, inv = np.unique(pl.astype(np.int64) * 100_000 + bday, return_inverse=True)
    decided = status[sc] != "pending"
    net = np.bincount(
        inv, weights=np.where(decided, payout[sc] - bets.stake[sc], 0.0), minlength=pairs.size
    )
    pair_pl, pair_day = pairs // 100_000, pairs % 100_000 - 1
    after_loss = np.r_[False, (net[:-1] < 0) & (pair_pl[1:] == pair_pl[:-1])]
    chase = after_loss & (pair_day >= onset_day[pair_pl])
    multiple = 2.0 + (intensity - 0.6) / 0.4  # stake 2-3x
    more = rng.uniform(1.5, 3.0, players)  # bets 1.5-3x
    up = sc[chase[inv]]
    stake, payout = bets.stake.copy(), payout.copy()
    stake[up] *= multiple[bets.player[up]]
    payout[up] *= multiple[bets.player[up]]
    # extra bets: copies of random bets of the day, placed around the same time
    n_day = np.bincount(inv, minlength=pairs.size)
    first = np.cumsum(n_day) - n_day
    by_pair = sc[np.argsort(inv, kind="stable")]
    j = np.flatnonzero(chase)
    extra = np.floor(n_day[j] * (more[pair_pl[j]] - 1.0) + rng.random(j.size)).astype(np.int64)
    j = np.repeat(j, extra)
    tpl = by_pair[first[j] + (rng.random(j.size) * n_day[j]).astype(np.int64)]
    placed = bets.placed[tpl] + rng.normal(0.0, 45 * 60, tpl.size).astype(np.int64)
    ok = (placed > start) & (placed < end)
    tpl, placed = tpl[ok], placed[ok]
    who = bets.player[tpl]
    market = bets.market[tpl]
    new = _Bets(
        who,
        placed,
        base_stake[who] * np.exp(rng.normal(0.0, 0.35, who.size)) * multiple[who],
        _odds(rng, market, np.zeros(who.size, bool)),
        market,
        bets.sport[tpl],
        bets.live[tpl],
    )
    n_status, n_settled, n_payout = _settle(rng, new, archetype, end)
    fields = ("player", "placed", "stake", "odds", "market", "sport", "live")
    base = _Bets(*(stake if f == "stake" else getattr(bets, f) for f in fields))
    merged = _Bets(*(np.concatenate([getattr(base, f), getattr(new, f)]) for f in fields))
    return (
        merged,
        np.concatenate([status, n_status]),
        np.concatenate([settled, n_settled]),
        np.concatenate([payout, n_payout]),
    )


def _settle(
    rng: np.random.Generator, bets: _Bets, archetype: np.ndarray, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = bets.player.size
    margin = np.where(bets.market == 4, 0.20, 0.045)
    p_win = (1.0 / bets.odds) * (1.0 - margin)
    p_win = np.where(
        archetype[bets.player] == "consistent_winner",
        np.minimum(p_win * 1.18 / (1 - margin), 0.95),
        p_win,
    )
    won = rng.random(n) < p_win
    u = rng.random(n)
    push = (bets.market >= 1) & (bets.market <= 2) & (u < 0.03)
    void = u > 0.995
    cashout = (u > 0.975) & (u <= 0.995)
    status = np.where(won, "won", "lost")
    status = np.where(push, "push", np.where(void, "void", np.where(cashout, "cashout", status)))
    delay = np.where(
        bets.live,
        rng.exponential(20 * 60, n) + 120,
        np.where(
            bets.market == 5,
            rng.uniform(7, 120, n) * 86400,
            rng.uniform(1800, 48 * 3600, n) + 3 * 3600,
        ),
    ).astype(np.int64)
    settled = bets.placed + delay
    payout = np.select(
        [status == "won", status == "lost", status == "cashout"],
        [bets.stake * bets.odds, np.zeros(n), bets.stake * rng.uniform(0.2, 1.8, n)],
        default=bets.stake,
    )
    pending = settled > end
    status = np.where(pending, "pending", status)
    payout = np.where(pending, np.nan, payout)
    settled = np.where(pending, -1, settled)
    return status, settled, payout


def generate(
    out_dir: Path,
    players: int = 2000,
    days: int = 90,
    seed: int = 7,
    as_of: date | datetime | None = None,
    file_format: Literal["csv", "parquet"] = "csv",
    families: Families = "core",
    season_shift: bool = False,
    holiday: bool = False,
    prevalence: float | None = None,
    tournament: bool = False,
) -> GenerateResult:
    """Write bets, assessments, outcomes, payments, account events and labels into ``out_dir``.

    Args:
        out_dir: Folder to write into (created).
        players: Number of players.
        days: Days of history.
        seed: Random seed.
        as_of: End of the history (default: now, to the hour).
        file_format: ``csv`` or ``parquet``.
        families: ``core`` (the eight archetypes) or ``all`` (every scenario family).
        season_shift: Everyone changes at once in the last 14 days.
        holiday: A shared four-day spike ending four days before ``as_of``.
        prevalence: Share of risk players; ``None`` keeps the families' usual weights.
        tournament: A tournament fortnight for a quarter of the players (fans of one sport).

    Returns:
        Counts and file paths.
    """
    import time

    import duckdb

    t0 = time.perf_counter()
    if as_of is None:
        as_of = utcnow().replace(minute=0, second=0, microsecond=0)
    elif not isinstance(as_of, datetime):
        as_of = datetime(as_of.year, as_of.month, as_of.day)
    frames = generate_frames(
        players, days, seed, as_of, families, season_shift, holiday=holiday,
        prevalence=prevalence, tournament=tournament,
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    con = duckdb.connect(":memory:")
    try:
        for name, table in frames.items():
            ext = "csv" if name == "labels" else file_format
            path = out_dir / f"{name}.{ext}"
            con.register("t", table)
            if ext == "csv":
                options = "(header, timestampformat '%Y-%m-%dT%H:%M:%S')"
            else:
                options = "(format parquet)"
            con.execute(f"copy (select * from t) to '{path.as_posix()}' {options}")
            con.unregister("t")
            files[name] = str(path)
    finally:
        con.close()
    return GenerateResult(
        out_dir=str(out_dir),
        players=players,
        bets=frames["bets"].num_rows,
        assessments=frames["assessments"].num_rows,
        outcomes=frames["outcomes"].num_rows,
        files=files,
        seconds=round(time.perf_counter() - t0, 2),
    )
