{#- Every bet held, with what never changes once it is loaded: the player's local time of
    placement, from the state suffix of player_id (seed state_timezones, DST from seed
    us_dst_periods); an unknown state counts as Eastern. Nothing here depends on T or on the
    scoring vars, so the table is kept between runs and a run adds only the loads it has not
    seen (ingest commits a load in one transaction, and a settled bet comes back as a new row
    of a new load, replacing the pending one by bet_id). `sentinel score-batch --full-refresh`
    rebuilds it from raw.bets, and so does a change of the seeds. On Snowflake it is clustered
    by the day of placement, so a run's window filter prunes micro-partitions (DuckDB prunes
    by its zone maps over bets loaded in time order). -#}

{%- set run = current_run() %}

{{
    config(
        materialized='incremental',
        unique_key='bet_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tmp_relation_type=var('tmp_relation_type', 'table'),
        cluster_by=(['to_date(placed_at)'] if target.type == 'snowflake'
                    and var('snowflake_clustering', true) else none)
    )
}}

with

{%- if is_incremental() %}

-- loads not seen yet (ingest commits a load whole): robust to loads that commit out of
-- order, where a loaded_at watermark would skip the slower one; set difference treats a
-- missing load_id (rows written by hand) as one load
new_loads as (

    select distinct load_id, loaded_at from {{ ref('stg_sentinel__bets') }}
    except
    select distinct load_id, loaded_at from {{ this }}

),
{%- endif %}

bets as (

    select held.* from {{ ref('stg_sentinel__bets') }} as held
    {%- if is_incremental() %}
    inner join new_loads
        on coalesce(new_loads.load_id, '') = coalesce(held.load_id, '')
        and new_loads.loaded_at = held.loaded_at
    {%- endif %}

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
        payout,
        status,
        load_id,
        loaded_at,
        utc_offset_hours,
        cast({{ dbt.dateadd('hour', 'utc_offset_hours', 'placed_at') }} as date) as local_day,
        cast(extract(hour from {{ dbt.dateadd('hour', 'utc_offset_hours', 'placed_at') }}) as integer)
            as local_hour,
        -- when this row was added (the run's start): int_player_days refreshes from it
        cast('{{ run.scored_at }}' as timestamp) as added_at

    from localised

)

select * from final
