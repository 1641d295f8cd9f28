{#- Sessions on the site as of T (data contract 5): a session runs from its session_started to
    the next session_ended, at most 4 hours (a session without an end ends 4 hours after it
    started; one still open at T ends at T). Read by the trigger markers and the money
    picture, so time on site has one rule; a table, so the sort of every session event is
    done once, not once per reader. -#}

{%- set as_of_ts = as_of() %}

{{ config(materialized='table') }}

with

edges as (

    select
        player_id,
        event_type,
        occurred_at,
        lead(event_type) over (partition by player_id order by occurred_at, event_id) as next_type,
        lead(occurred_at) over (partition by player_id order by occurred_at, event_id) as next_at
    from {{ source('sentinel', 'account_events') }}
    where event_type in ('session_started', 'session_ended')
        and occurred_at <= {{ as_of_ts }}

)

select
    player_id,
    occurred_at as started_at,
    least(
        case when next_type = 'session_ended' then next_at
             else {{ dbt.dateadd('hour', 4, 'occurred_at') }} end,
        {{ dbt.dateadd('hour', 4, 'occurred_at') }},
        {{ as_of_ts }}
    ) as ended_at
from edges
where event_type = 'session_started'
