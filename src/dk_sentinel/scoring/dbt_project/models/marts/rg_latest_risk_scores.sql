{#- The current score of every player: the published rows of the latest successful run. -#}

{{ config(materialized='view') }}

with

published as (

    select * from {{ ref('rg_published_risk_scores') }}

),

runs as (

    select * from {{ ref('stg_ops__scoring_runs') }}

),

latest_run as (

    select run_id from runs
    where is_published
    order by finished_at desc, run_id desc
    limit 1

),

final as (

    select published.*
    from published
    inner join latest_run on latest_run.run_id = published.run_id

)

select * from final
