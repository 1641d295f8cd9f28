{#- Per player and local day, over every bet held: bets, amount staked, the sum of ln(stake), the first and last placement. The daily stake trajectory and the active days of int_players_windowed are
    built from it (aggregating 10M bets into 5M player-days was the costliest step of a run).
    Nothing here depends on T, so a run recomputes only the player-days that gained or
    changed a bet since the last run (from int_bets_localised, whole days, so the result is
    the same as a rebuild); `score-batch --full-refresh` rebuilds it. -#}

{%- set run = current_run() %}

{{
    config(
        materialized='incremental',
        unique_key=['player_id', 'local_day'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tmp_relation_type=var('tmp_relation_type', 'table')
    )
}}

{#- The table is named twice, not through one CTE: DuckDB materialises a CTE read twice. #}
with

{%- if is_incremental() %}

-- the player-days with a bet added (or settled) by a run after the one that last refreshed
-- this table (a run that failed between the two tables is caught up); runs start strictly
-- after one another (score_batch makes sure of it, even if the clock steps back)
touched as (

    select distinct player_id, local_day
    from {{ ref('int_bets_localised') }}
    where added_at > (select max(refreshed_at) from {{ this }})

),
{%- endif %}

final as (

    select
        bets.player_id,
        bets.local_day,
        count(*) as bets,
        sum(bets.stake) as staked,
        -- the day's typical stake is the geometric mean (a sum, cheap to keep; a median
        -- per player-day cost a sort of every bet held)
        sum(ln(bets.stake)) as log_stake_sum,
        min(bets.placed_at) as first_placed_at,
        max(bets.placed_at) as last_placed_at,
        cast('{{ run.scored_at }}' as timestamp) as refreshed_at

    from {{ ref('int_bets_localised') }} as bets
    {%- if is_incremental() %}
    inner join touched
        on touched.player_id = bets.player_id and touched.local_day = bets.local_day
    -- the day range as well, which prunes the scan; without it DuckDB aggregates every bet
    -- before the join when nothing was touched (0.7 s at 10M bets, 0.03 s with it)
    where bets.local_day between (select min(local_day) from touched)
                             and (select max(local_day) from touched)
    {%- endif %}
    group by bets.player_id, bets.local_day

)

select * from final
