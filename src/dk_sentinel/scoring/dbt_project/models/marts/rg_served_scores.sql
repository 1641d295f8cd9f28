{#- The read path's snapshot of this run's score rows, one per player, laid out for point
    lookups (sentinel analyze, GET /api/players/{id}/risk, serve's memory). `dbt build` makes
    it only after the run's checks pass (a failed check skips it, so the last good snapshot
    stays); a reader serves a row only when its run is rg_latest_run's, so the snapshot of a
    run not (yet) published is never shown, and the player's latest published row is read
    instead. Replays never build it (score-batch excludes tag:served). -#}
{#- dbt build runs a test before a model only when the model descends from every model
    the test reads: scoring_run_checks reads the runs too. -#}
-- depends_on: {{ ref('stg_ops__scoring_runs') }}

{{ config(
    materialized='table',
    transient=true,
    tags=['served'],
    post_hook="{{ index_for_lookups('player_id') }}",
) }}

{%- set run = current_run() %}

with

scores as (

    select * from {{ ref('rg_risk_scores') }}
    where run_id = '{{ run.run_id }}'

),

final as (

    select * from scores
    order by player_id

)

select * from final
