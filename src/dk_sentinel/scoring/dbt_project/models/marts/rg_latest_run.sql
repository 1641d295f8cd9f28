{#- The latest published run (successful and live; finished last, then run id): the one place
    "latest" is decided. rg_latest_risk_scores joins it; sentinel reads it for the freshness
    block, the read path's snapshot check, serve's memory and the next run's watermark
    (dk_sentinel.scoring.last_successful_run). -#}

{{ config(materialized='view') }}

with

runs as (

    select * from {{ ref('stg_ops__scoring_runs') }}

),

final as (

    select run_id, status, kind, started_at, finished_at, as_of, watermark, new_bets,
        players_scored, tests_passed, tests_failed, scoring_version, profile_version, error
    from runs
    where is_published
    order by finished_at desc, run_id desc
    limit 1

)

select * from final
