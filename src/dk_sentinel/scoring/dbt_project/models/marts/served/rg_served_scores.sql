{#- The read path's snapshot of this run's score rows, one per player, laid out for point
    lookups (sentinel analyze, GET /api/players/{id}/risk, serve's memory). `dbt build` makes
    it last, only after the run's checks and every other mart passed (a failure skips it, so
    the last good snapshot stays). A reader serves a row only when its run is
    rg_latest_run's: the snapshot of a run not published after all (its lease was lost at the
    end) is never shown, and until the next run the player's latest published row is read
    instead. Replays never build it (score-batch excludes tag:served). -#}
{#- dbt build runs a test before a model only when the model descends from every model
    the test reads (scoring_run_checks reads the runs too); the other marts, so it comes last. -#}
-- depends_on: {{ ref('stg_ops__scoring_runs') }}
-- depends_on: {{ ref('rg_fired_triggers') }}
-- depends_on: {{ ref('rg_review_queue') }}

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
