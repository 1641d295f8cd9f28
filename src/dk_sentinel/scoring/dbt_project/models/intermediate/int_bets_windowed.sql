{#- The bets of int_bets_settled with the flags the components count: late night in the
    player's local time (int_bets_localised), live, niche sport, longshot. A view on DuckDB,
    a table on Snowflake. -#}

{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

bets as (

    select * from {{ ref('int_bets_settled') }}

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
        local_day,
        case when local_hour >= {{ var('late_night_start_hour') }}
              and local_hour < {{ var('late_night_end_hour') }}
            then 1 else 0 end as is_late_night,
        case when is_live then 1 else 0 end as is_live_bet,
        case when sport in ('NFL', 'NBA', 'MLB', 'NHL', 'NCAAF', 'NCAAB', 'SOCCER', 'TENNIS', 'GOLF')
            then 0 else 1 end as is_niche_sport,
        case when odds_decimal >= {{ var('longshot_odds') }} then 1 else 0 end as is_longshot

    from bets

)

select * from final
