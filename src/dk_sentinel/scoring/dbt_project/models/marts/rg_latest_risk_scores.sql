{#- The current score of every player: the rows of the latest *successful* scoring run.
    Rows of a run that is still going or crashed are never visible here. -#}

{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('rg_risk_scores') }}

),

runs as (

    select * from {{ ref('stg_ops__scoring_runs') }}

),

latest_run as (

    select run_id from runs
    where status = 'success'
    order by finished_at desc
    limit 1

),

final as (

    select scores.*
    from scores
    inner join latest_run on latest_run.run_id = scores.run_id

)

select * from final
