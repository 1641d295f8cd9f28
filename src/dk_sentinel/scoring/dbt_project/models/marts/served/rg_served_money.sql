{#- The read path's snapshot of every player's money picture (int_player_money) as of this
    run, carrying the run id; built last and read as rg_served_scores (the refs below make it
    wait for, and be skipped with, the run's checks and the other marts). -#}
-- depends_on: {{ ref('rg_risk_scores') }}
-- depends_on: {{ ref('stg_ops__scoring_runs') }}
-- depends_on: {{ ref('rg_fired_triggers') }}
-- depends_on: {{ ref('rg_review_queue') }}

{%- set run = current_run() %}

with

money as (

    select * from {{ ref('int_player_money') }}

),

final as (

    select '{{ run.run_id }}' as run_id, money.*
    from money
    order by money.player_id

)

select * from final
