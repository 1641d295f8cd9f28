{#- The money picture as of T, per player with a payment or an account event held (data
    contract 4 and 5): the one definition of these markers. A live run's copy is what
    `sentinel analyze`, the API and the console show (scoring.SERVED_MONEY); rg_risk_scores
    keeps nine of them with each score, so `calibrate` can offer them as features at every
    past as-of. -#}

{%- set as_of_ts = as_of() %}
{%- set since_30 = dbt.dateadd('day', -30, as_of_ts) %}
{%- set since_90 = dbt.dateadd('day', -90, as_of_ts) %}
{%- set windows = [1, 7, 30, 90] %}  {#- the windows analyze shows #}

{{ config(materialized='table') }}

with

payments as (

    select
        player_id,
        {%- for days in windows %}
        {%- for kind, name in [('deposit', 'deposits'), ('withdrawal', 'withdrawals')] %}
        {%- set within = "kind = '" ~ kind ~ "' and status = 'completed' and completed_at > "
                         ~ dbt.dateadd('day', -days, as_of_ts) %}
        sum(case when {{ within }} then amount else 0 end) as money_{{ name }}_{{ days }}d,
        sum(case when {{ within }} then 1 else 0 end) as money_{{ kind }}_count_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        sum(case when kind = 'withdrawal' and status = 'cancelled' and completed_at > {{ since_30 }}
                 then 1 else 0 end) as money_cancelled_withdrawals_30d,
        sum(case when kind = 'deposit' and status = 'declined' and requested_at > {{ since_30 }}
                 then 1 else 0 end) as money_declined_deposits_30d,
        count(distinct case when kind = 'deposit' and requested_at > {{ since_90 }}
                            then method_id end) as money_payment_methods_90d
    from {{ source('sentinel', 'payments') }}
    where coalesce(completed_at, requested_at) <= {{ as_of_ts }}
    group by player_id

),

events as (

    select
        player_id,
        sum(case when event_type like 'deposit_limit_%' then 1 else 0 end)
            as money_limit_changes_30d,
        sum(case when event_type in ('rg_page_viewed', 'self_exclusion_page_viewed') then 1 else 0 end)
            as money_rg_page_visits_30d
    from {{ source('sentinel', 'account_events') }}
    where occurred_at > {{ since_30 }} and occurred_at <= {{ as_of_ts }}
    group by player_id

),

sessions as (

    select
        player_id,
        sum({{ dbt.datediff('started_at', 'ended_at', 'second') }}) / 3600.0
            as money_session_hours_30d
    from {{ ref('int_account_sessions') }}
    where started_at > {{ since_30 }}
    group by player_id

),

players as (

    select player_id from payments
    union
    select player_id from events
    union
    select player_id from sessions

)

select
    players.player_id,
    {{ as_of_ts }} as as_of,
    {%- for days in windows %}
    {%- for column in ['deposits', 'deposit_count', 'withdrawals', 'withdrawal_count'] %}
    coalesce(p.money_{{ column }}_{{ days }}d, 0) as money_{{ column }}_{{ days }}d,
    {%- endfor %}
    {%- endfor %}
    coalesce(p.money_cancelled_withdrawals_30d, 0) as money_cancelled_withdrawals_30d,
    coalesce(p.money_declined_deposits_30d, 0) as money_declined_deposits_30d,
    coalesce(p.money_payment_methods_90d, 0) as money_payment_methods_90d,
    coalesce(e.money_limit_changes_30d, 0) as money_limit_changes_30d,
    coalesce(e.money_rg_page_visits_30d, 0) as money_rg_page_visits_30d,
    coalesce(s.money_session_hours_30d, 0) as money_session_hours_30d
from players
left join payments as p on p.player_id = players.player_id
left join events as e on e.player_id = players.player_id
left join sessions as s on s.player_id = players.player_id
