{#- Bets placed in the scoring window (T - recent - baseline days, T], each tagged with its
    window, its state as of T (a bet settled after T is still open at T, and its outcome
    -- loss / win / even -- is known only once settled) and the flags the components count:
    late night in the player's local time, live, niche sport, longshot. Read from
    int_bets_localised, filtered on placed_at (the engine prunes by it: DuckDB's zone maps,
    Snowflake's clustering key). A view on DuckDB (recomputing it is cheaper than writing
    10M rows to the file), a table on Snowflake (one, read by both window models). -#}

{%- set as_of_ts = as_of() %}

{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

bets as (

    select
        *,
        -- an outcome known at T (push and void are even money, not outcomes)
        coalesce(settled_at <= {{ as_of_ts }} and status not in ('pending', 'void', 'push'),
                 false) as is_decided
    from {{ ref('int_bets_localised') }}
    where placed_at <= {{ as_of_ts }}
      and placed_at > {{ dbt.dateadd('day', -(var('recent_window_days') + var('baseline_window_days')), as_of_ts) }}

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
        utc_offset_hours,
        local_day,
        case
            when placed_at > {{ dbt.dateadd('day', -var('recent_window_days'), as_of_ts) }} then 'recent'
            else 'baseline'
        end as bet_window,
        case when is_decided
            then case when payout < stake then 'loss' when payout > stake then 'win' else 'even' end
        end as settled_outcome,
        case when is_decided then stake - payout end as settled_net_loss,
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
