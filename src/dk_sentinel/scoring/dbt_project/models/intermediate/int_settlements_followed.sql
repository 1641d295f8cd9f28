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

with

bets as (

    select * from {{ ref('int_bets_windowed') }}

),

players as (

    select * from {{ ref('int_players_windowed') }}

),

settlements as (

    select bets.player_id, bets.bet_id, bets.settled_at, bets.settled_outcome,
        coalesce(players.baseline_median_stake, players.recent_median_stake) as reference_stake
    from bets
    inner join players on players.player_id = bets.player_id
    where bets.settled_outcome in ('loss', 'win')
      and bets.settled_at > {{ dbt.dateadd('day', -var('chase_lookback_days'), as_of_ts) }}

),

next_bets as (

    select player_id, bet_id, placed_at, stake
    from bets
    where placed_at > {{ dbt.dateadd('minute', -var('chase_window_minutes'),
                                     dbt.dateadd('day', -var('chase_lookback_days'), as_of_ts)) }}

),

followed as (

    select
        s.player_id,
        s.bet_id,
        s.settled_outcome,
        s.settled_at,
        s.reference_stake,
        max(case when n.stake >= {{ var('chase_stake_ratio') }} * s.reference_stake then 1 else 0 end)
            as is_followed_bigger,
        min(case when n.stake >= {{ var('chase_stake_ratio') }} * s.reference_stake
            then {{ dbt.datediff('s.settled_at', 'n.placed_at', 'second') }} end) / 60.0
            as minutes_to_bigger_bet,
        max(n.stake) as max_next_stake

    from settlements as s
    left join next_bets as n
        on n.player_id = s.player_id
        and n.bet_id <> s.bet_id
        and n.placed_at > s.settled_at
        and n.placed_at <= {{ dbt.dateadd('minute', var('chase_window_minutes'), 's.settled_at') }}
    group by s.player_id, s.bet_id, s.settled_outcome, s.settled_at, s.reference_stake

),

final as (

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
            then max_next_stake / nullif(reference_stake, 0) end) as chase_stake_ratio

    from followed
    group by player_id

)

select * from final
