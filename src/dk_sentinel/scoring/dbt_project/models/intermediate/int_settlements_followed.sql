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
        bets.settled_outcome,
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

-- Only bets big enough to be a chase can follow a settlement as one.
bigger_bets as (

    select player_id, bet_id, placed_at, stake
    from candidates
    where placed_at > {{ links_from }}
      and stake >= {{ var('chase_stake_ratio') }} * reference_stake

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
            then next_bigger_stake / nullif(reference_stake, 0) end) as chase_stake_ratio

    from followed
    group by player_id

)

select * from final
