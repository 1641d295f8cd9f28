{#- The latest Gamalyze assessment at or before T and inside the staleness window.
    Players without one have no Gamalyze component (never imputed). -#}

{%- set as_of_ts = as_of() %}

with

assessments as (

    select * from {{ ref('stg_sentinel__assessments') }}
    where assessed_at <= {{ as_of_ts }}
      and assessed_at > {{ dbt.dateadd('day', -var('gamalyze_staleness_days'), as_of_ts) }}

),

ranked as (

    select
        player_id,
        assessment_id,
        assessed_at,
        risk_score,
        row_number() over (partition by player_id order by assessed_at desc, assessment_id desc) as recency

    from assessments

),

final as (

    select player_id, assessment_id, assessed_at, risk_score
    from ranked
    where recency = 1

)

select * from final
