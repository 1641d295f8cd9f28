{#- The bets of int_bets_settled with the flags the components count, in the player's local
    time: from the state suffix of player_id (seed state_timezones, DST from seed
    us_dst_periods); an unknown state counts as Eastern. A view on DuckDB (recomputing it per
    consumer is far cheaper than writing 10M rows to the file), a table on Snowflake. -#}

{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

bets as (

    select * from {{ ref('int_bets_settled') }}

),

state_timezones as (

    select * from {{ ref('state_timezones') }}

),

dst_periods as (

    select * from {{ ref('us_dst_periods') }}

),

-- US zones change clocks at 02:00 local time: 02:00 local standard time on the start date,
-- 01:00 local standard time (02:00 daylight) on the end date. The seed holds Eastern's change
-- instants in UTC (07:00 and 06:00); less Eastern's 5 hours they are those local standard
-- times, which every zone's local standard time is compared with.
standard_time as (

    select
        bets.*,
        coalesce(tz.utc_offset_hours, -5) as standard_offset_hours,
        coalesce(tz.observes_dst, true) as observes_dst,
        {{ dbt.dateadd('hour', 'coalesce(tz.utc_offset_hours, -5)', 'bets.placed_at') }}
            as standard_local_at

    from bets
    left join state_timezones as tz on tz.state = bets.state

),

localised as (

    select
        standard_time.*,
        standard_offset_hours
            + case when observes_dst
                    and standard_local_at >= {{ dbt.dateadd('hour', -5, 'dst.dst_starts_at') }}
                    and standard_local_at < {{ dbt.dateadd('hour', -5, 'dst.dst_ends_at') }}
                then 1 else 0 end
            as utc_offset_hours

    from standard_time
    left join dst_periods as dst on dst.dst_year = extract(year from standard_time.placed_at)

),

final as (

    select
        bet_id,
        player_id,
        state,
        placed_at,
        settled_at,
        sport,
        market,
        is_live,
        odds_decimal,
        stake,
        utc_offset_hours,
        bet_window,
        settled_outcome,
        settled_net_loss,
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
