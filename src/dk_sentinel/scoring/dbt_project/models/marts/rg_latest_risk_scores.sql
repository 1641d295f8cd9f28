{#- The current score of every player: the published rows of the latest run (rg_latest_run). -#}

{{ config(materialized='view') }}

with

published as (

    select * from {{ ref('rg_published_risk_scores') }}

),

latest_run as (

    select run_id from {{ ref('rg_latest_run') }}

),

final as (

    select published.*
    from published
    inner join latest_run on latest_run.run_id = published.run_id

)

select * from final
