{#- The review queue: every player of the latest successful run at MEDIUM or above, with
    when they first reached their current category in the current streak (the first
    published run at or above it after the last run below it) and the SLA due time counted
    from then ([queue] sla_hours_*). A view, so it always reflects the latest run; open
    interventions (which change between runs) are joined by the reader. -#}

{{ config(materialized='view') }}

with

latest as (

    select * from {{ ref('rg_latest_risk_scores') }}
    where risk_category in {{ sql_list(var('queue_categories')) }}

),

published as (

    select * from {{ ref('rg_published_risk_scores') }}

),

history as (

    select
        published.player_id,
        published.as_of,
        published.scored_at,
        published.composite_risk_score,
        {{ category_rank('published.risk_category') }} as category_rank,
        {{ category_rank('latest.risk_category') }} as current_rank,
        latest.as_of as current_as_of

    from published
    inner join latest on latest.player_id = published.player_id

),

last_below as (

    select player_id, max(as_of) as below_at
    from history
    where category_rank < current_rank
    group by player_id

),

streaks as (

    select history.player_id, min(history.scored_at) as first_reached_at
    from history
    left join last_below on last_below.player_id = history.player_id
    where history.category_rank >= history.current_rank
      and (last_below.below_at is null or history.as_of > last_below.below_at)
    group by history.player_id

),

week_before as (

    select player_id, max(as_of) as as_of
    from history
    where as_of <= {{ dbt.dateadd('day', -7, 'current_as_of') }}
    group by player_id

),

final as (

    select
        latest.player_id,
        latest.state,
        latest.run_id,
        latest.as_of,
        latest.risk_category,
        latest.composite_risk_score,
        latest.risk_probability,
        latest.primary_driver,
        {% for c in var('risk_components') %}{% if not loop.first %} + {% endif %}coalesce(latest.{{ c.name }}, 0){% endfor %}
            as evidence_strength,
        latest.composite_risk_score - week_ago.composite_risk_score as change_7d,
        streaks.first_reached_at,
        case latest.risk_category
            {%- for category in ['critical', 'high', 'medium'] %}
            when '{{ category | upper }}' then {{ dbt.dateadd('minute',
                (var('sla_hours_' ~ category) * 60) | int, 'streaks.first_reached_at') }}
            {%- endfor %}
        end as sla_due_at

    from latest
    left join streaks on streaks.player_id = latest.player_id
    left join week_before on week_before.player_id = latest.player_id
    left join history as week_ago
        on week_ago.player_id = latest.player_id and week_ago.as_of = week_before.as_of

)

select * from final
