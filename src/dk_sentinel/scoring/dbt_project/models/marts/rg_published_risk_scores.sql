{#- Every score row analysts may see: the rows of *successful live* scoring runs, the one
    place that rule lives (history, 7/30-day changes, the queue and the latest scores read
    this). Rows of a run that is still going or crashed, and replays of past as-ofs (backtest
    history), are never visible. -#}

{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('rg_risk_scores') }}

),

runs as (

    select * from {{ ref('stg_ops__scoring_runs') }}

),

final as (

    select scores.*, runs.finished_at as run_finished_at
    from scores
    inner join runs on runs.run_id = scores.run_id
    where runs.is_published

)

select * from final
