{#- For every bet settled (as of T) in the chase window (T - chase_lookback_days, T]: was
    another bet placed within chase_window_minutes after the *settlement*, with a stake of at
    least chase_stake_ratio x the player's reference stake (baseline median; recent median when
    there is no baseline)? Done for wins too: the after-win rate is each player's own control,
    so a player whose stakes are merely noisy, or who bets in quick sessions, is not mistaken
    for a chaser. Counted over the recent window and over the longer chase window (28 days by
    default), where an ordinary player's 1-2 losses a week add up to a useful count; the
    score takes the stronger of the two, so a chase that began last week is not diluted by
    the calm weeks before it. -#}

{%- set as_of_ts = as_of() %}
{#- settlements counted: (T - chase_lookback_days, T]; a bet placed up to chase_window_minutes
    before that can no longer follow one of them, so later bets are the possible follow-ups -#}
{%- set chase_from = dbt.dateadd('day', -var('chase_lookback_days'), as_of_ts) %}
{%- set links_from = dbt.dateadd('minute', -var('chase_window_minutes'), chase_from) %}

with

bets as (

    select * from {{ ref('int_bets_windowed') }}

),

players as (

    select * from {{ ref('int_players_windowed') }}

),

-- The bets that can take part, each with the player's reference stake (baseline median;
-- recent median when there is no baseline), joined once.
candidates as {% if target.type == 'duckdb' %}materialized{% endif %} (

    select
        bets.player_id, bets.bet_id, bets.placed_at, bets.stake, bets.settled_at,
        bets.settled_outcome, bets.odds_decimal,
        coalesce(players.baseline_median_stake, players.recent_median_stake) as reference_stake
    from bets
    inner join players on players.player_id = bets.player_id
    where (bets.settled_outcome in ('loss', 'win') and bets.settled_at > {{ chase_from }})
       or bets.placed_at > {{ links_from }}

),

settlements as (

    select player_id, bet_id, settled_at, settled_outcome, reference_stake
    from candidates
    where settled_outcome in ('loss', 'win') and settled_at > {{ chase_from }}

),

-- Only bets that raise the stake (>= chase_stake_ratio x the reference) or reach for a
-- longshot can follow a settlement as a chase. Whether the player does so more after losses
-- than after wins is the question (rg_risk_scores); a player who re-bets this way after
-- every settlement, win or lose, is not chasing.
bigger_bets as (

    select player_id, bet_id, placed_at, stake
    from candidates
    where placed_at > {{ links_from }}
      and (stake >= {{ var('chase_stake_ratio') }} * reference_stake
           or odds_decimal >= {{ var('longshot_odds') }})

),

-- The first bigger bet after each settlement, in one pass over each player's events in time
-- order (a range join of settlements with later bets costs far more). At equal times a bet
-- sorts before the settlement, so only bets placed strictly after it count.
events as (

    select player_id, bet_id, settled_at as event_at, 0 as is_bet, settled_outcome,
        reference_stake
    from settlements
    union all
    select player_id, bet_id, placed_at as event_at, 1 as is_bet, null as settled_outcome,
        null as reference_stake
    from bigger_bets

),

linked as (

    select
        events.*,
        min(case when is_bet = 1 then event_at end) over (
            partition by player_id order by event_at, is_bet desc
            rows between 1 following and unbounded following) as next_bigger_at

    from events

),

next_stakes as (

    select player_id, placed_at, max(stake) as stake
    from bigger_bets
    group by player_id, placed_at

),

followed as (

    select
        linked.player_id,
        linked.bet_id,
        linked.settled_outcome,
        linked.event_at as settled_at,
        linked.reference_stake,
        case when linked.next_bigger_at <= {{ dbt.dateadd('minute', var('chase_window_minutes'),
                                                          'linked.event_at') }}
            then 1 else 0 end as is_followed_bigger,
        {{ dbt.datediff('linked.event_at', 'linked.next_bigger_at', 'second') }} / 60.0
            as minutes_to_bigger_bet,
        next_stakes.stake as next_bigger_stake

    from linked
    left join next_stakes
        on next_stakes.player_id = linked.player_id
        and next_stakes.placed_at = linked.next_bigger_at
    where linked.is_bet = 0

),

-- Chasing across sessions: each local day's result (the net of its bets placed that day and
-- settled by T, over the chase window; int_player_days_windowed) and how the player played
-- on their next active day within three days (bets and median stake against their own
-- baseline, beyond the book's move that day; a day when the whole book moved is left out).
-- The contrast between the days after a losing day and the days after any other day is read
-- in rg_risk_scores.
days_ahead as (

    select
        player_id,
        local_day,
        day_net_loss,
        lead(local_day) over (partition by player_id order by local_day) as next_local_day,
        lead(log_bets_deviation + log_stake_deviation)
            over (partition by player_id order by local_day) as next_day_log_staked_rise,
        lead(coalesce(is_shock_day, 0))
            over (partition by player_id order by local_day) as next_is_shock_day
    from {{ ref('int_player_days_windowed') }}
    where local_day >= cast({{ dbt.dateadd('day', -1, chase_from) }} as date)

),

next_days as (

    select
        player_id,
        case when day_net_loss > 0 then 1 else 0 end as after_losing_day,
        next_day_log_staked_rise

    from days_ahead
    where day_net_loss is not null
      and next_day_log_staked_rise is not null
      and next_is_shock_day = 0
      and next_local_day <= cast({{ dbt.dateadd('day', 3, 'local_day') }} as date)

),

sessions as (

    select
        player_id,
        sum(after_losing_day) as losing_days_followed,
        sum(1 - after_losing_day) as other_days_followed,
        sum(case when after_losing_day = 1 then next_day_log_staked_rise else 0.0 end)
            as log_staked_rise_after_losing_days,
        sum(case when after_losing_day = 0 then next_day_log_staked_rise else 0.0 end)
            as log_staked_rise_after_other_days

    from next_days
    group by player_id

),

quick as (

    select
        player_id,
        sum(case when settled_outcome = 'loss'
                  and settled_at > {{ dbt.dateadd('day', -var('recent_window_days'), as_of_ts) }}
            then 1 else 0 end) as recent_settled_losses,
        sum(case when settled_outcome = 'loss'
                  and settled_at > {{ dbt.dateadd('day', -var('recent_window_days'), as_of_ts) }}
            then is_followed_bigger else 0 end) as recent_chased_losses,
        sum(case when settled_outcome = 'loss' then 1 else 0 end) as chase_settled_losses,
        sum(case when settled_outcome = 'loss' then is_followed_bigger else 0 end) as chased_losses,
        sum(case when settled_outcome = 'win' then 1 else 0 end) as chase_settled_wins,
        sum(case when settled_outcome = 'win' then is_followed_bigger else 0 end) as wins_followed_bigger,
        median(case when settled_outcome = 'loss' and is_followed_bigger = 1
            then minutes_to_bigger_bet end) as median_minutes_to_chase,
        median(case when settled_outcome = 'loss' and is_followed_bigger = 1
            then next_bigger_stake / nullif(reference_stake, 0) end) as chase_stake_ratio

    from followed
    group by player_id

),

final as (

    select
        quick.*,
        coalesce(sessions.losing_days_followed, 0) as losing_days_followed,
        coalesce(sessions.other_days_followed, 0) as other_days_followed,
        coalesce(sessions.log_staked_rise_after_losing_days, 0.0) as log_staked_rise_after_losing_days,
        coalesce(sessions.log_staked_rise_after_other_days, 0.0) as log_staked_rise_after_other_days

    from quick
    left join sessions on sessions.player_id = quick.player_id

)

select * from final
