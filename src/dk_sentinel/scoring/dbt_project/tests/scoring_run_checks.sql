{#- Every invariant of the run being built, in one query over its rows (one test node instead
    of one per check: each node costs a round of dbt's bookkeeping, ~60 ms here, which used to
    be a third of a small run). A row per broken check, with how many rows break it;
    `sentinel score-batch` runs this query again on failure to name the checks. The score
    history is checked one run at a time: old runs were checked when they were written.
    Uniqueness of player_id in the intermediate models shows up here as a duplicated
    (player_id, run_id); the raw tables' own constraints and ingest guard bet_id / player_id. -#}

{%- set in_unit = ['composite_risk_score', 'risk_probability'] %}
{%- for c in var('risk_components') %}{% set _ = in_unit.append(c.name) %}{% endfor %}

with

scores as (

    select * from {{ ref('rg_risk_scores') }}
    where {{ this_run_filter() }}

),

checks as (

    select 'player_id_run_id_unique' as check_name,
        count(*) - count(distinct player_id) as failing_rows
    from scores
    union all
    select 'player_id_not_null', count(*) - count(player_id) from scores
    union all
    select 'composite_risk_score_not_null', count(*) - count(composite_risk_score) from scores
    union all
    select 'loss_chase_not_null', count(*) - count(loss_chase) from scores
    union all
    select 'risk_category_accepted_values',
        coalesce(sum(case when risk_category in {{ sql_list(var('categories')) }}
                      then 0 else 1 end), 0)
    from scores
    {%- for column in in_unit %}
    union all
    select '{{ column }}_between_0_and_1',
        coalesce(sum(case when {{ column }} < 0 or {{ column }} > 1 then 1 else 0 end), 0)
    from scores
    {%- endfor %}
    union all
    select 'run_id_in_scoring_runs', count(*)
    from scores
    where run_id not in (select run_id from {{ ref('stg_ops__scoring_runs') }})
    union all
    -- the weights in use must sum to 1 (the CLI validates this too; this guards direct dbt runs)
    select 'weights_sum_to_one',
        case when abs({% for c in var('risk_components') %}{{ c.weight }} + {% endfor %}0.0
                      - 1.0) > 0.000001 then 1 else 0 end

)

select check_name, failing_rows
from checks
where failing_rows > 0
