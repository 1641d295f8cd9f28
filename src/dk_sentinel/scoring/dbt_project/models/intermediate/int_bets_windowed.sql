{#- Bets placed in the scoring window (T - recent - baseline days, T], each tagged with its
    window, its state as of T (a bet settled after T is still open at T) and the flags the
    components count. Local time comes from the state suffix of player_id (seed
    state_timezones, DST from seed us_dst_periods); an unknown state counts as Eastern.
    A view on DuckDB: recomputing it per consumer (~1 s per 10M bets) is far cheaper than
    writing 10M rows to the file (~9 s); a table on Snowflake. -#}

{%- set as_of_ts = as_of() %}

{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

bets as (

    select * from {{ ref('stg_sentinel__bets') }}
    where placed_at <= {{ as_of_ts }}
      and placed_at > {{ dbt.dateadd('day', -(var('recent_window_days') + var('baseline_window_days')), as_of_ts) }}

),

state_timezones as (

    select * from {{ ref('state_timezones') }}

),

dst_periods as (

    select * from {{ ref('us_dst_periods') }}

),

localised as (

    select
        bets.*,
        coalesce(tz.utc_offset_hours, -5)
            + case when coalesce(tz.observes_dst, true)
                    and bets.placed_at >= dst.dst_starts_at
                    and bets.placed_at < dst.dst_ends_at then 1 else 0 end
            as utc_offset_hours

    from bets
    left join state_timezones as tz on tz.state = bets.state
    left join dst_periods as dst on dst.dst_year = extract(year from bets.placed_at)

),

final as (

    select
        bet_id,
        player_id,
        state,
        placed_at,
        case when settled_at <= {{ as_of_ts }} and status <> 'pending' then settled_at end as settled_at,
        sport,
        market,
        is_live,
        odds_decimal,
        stake,
        case
            when placed_at > {{ dbt.dateadd('day', -var('recent_window_days'), as_of_ts) }} then 'recent'
            else 'baseline'
        end as bet_window,
        case when settled_at <= {{ as_of_ts }} and status not in ('pending', 'void', 'push')
            then case when payout < stake then 'loss' when payout > stake then 'win' else 'even' end
        end as settled_outcome,
        cast({{ dbt.dateadd('hour', 'utc_offset_hours', 'placed_at') }} as date) as local_day,
        case when extract(hour from {{ dbt.dateadd('hour', 'utc_offset_hours', 'placed_at') }})
                  >= {{ var('late_night_start_hour') }}
              and extract(hour from {{ dbt.dateadd('hour', 'utc_offset_hours', 'placed_at') }})
                  < {{ var('late_night_end_hour') }}
            then 1 else 0 end as is_late_night,
        case when is_live then 1 else 0 end as is_live_bet,
        case when sport in ('NFL', 'NBA', 'MLB', 'NHL', 'NCAAF', 'NCAAB', 'SOCCER', 'TENNIS', 'GOLF')
            then 0 else 1 end as is_niche_sport,
        case when odds_decimal >= {{ var('longshot_odds') }} then 1 else 0 end as is_longshot

    from localised

)

select * from final
