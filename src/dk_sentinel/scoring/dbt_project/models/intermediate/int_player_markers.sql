{#- The markers the jurisdiction triggers read (dk_sentinel.jurisdictions.Marker), per player,
    for every (marker, window) the run's rules name, each over the trailing window
    (T - window_days, T]: one row per player with something to count, the value and the count
    of records behind it (the evidence). Payments are read as they stood at T: a withdrawal
    cancelled after T was still pending then. -#}

{%- set as_of_ts = as_of() %}

{{ config(materialized='table') }}

with

windows as (

    select distinct marker, window_days from {{ source('ops', 'trigger_rules') }}

),

payment_rows as (

    -- every row of a payment's history known at T (the time it took effect)
    select *, coalesce(completed_at, requested_at) as effective_at
    from {{ source('sentinel', 'payments') }}
    where coalesce(completed_at, requested_at) <= {{ as_of_ts }}

),

events as (

    select * from {{ source('sentinel', 'account_events') }}
    where occurred_at <= {{ as_of_ts }}

),

payment_markers as (

    select
        w.marker,
        w.window_days,
        p.player_id,
        case w.marker
            when 'deposit_amount' then sum(p.amount)
            when 'payment_methods' then count(distinct p.method_id)
            else count(*)
        end as value,
        count(*) as evidence_count
    from windows as w
    inner join payment_rows as p
        on p.effective_at > {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
        and (
            (w.marker in ('deposit_amount', 'deposit_count')
                and p.kind = 'deposit' and p.status = 'completed')
            or (w.marker = 'declined_deposits' and p.kind = 'deposit' and p.status = 'declined')
            or (w.marker = 'cancelled_withdrawals'
                and p.kind = 'withdrawal' and p.status = 'cancelled')
            or (w.marker = 'payment_methods' and p.kind = 'deposit'
                and p.method_id is not null)
        )
    group by w.marker, w.window_days, p.player_id

),

event_markers as (

    select
        w.marker,
        w.window_days,
        e.player_id,
        count(*) as value,
        count(*) as evidence_count
    from windows as w
    inner join events as e
        on e.occurred_at > {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
        and (
            (w.marker = 'limit_increases'
                and e.event_type in ('deposit_limit_increased', 'deposit_limit_removed'))
            or (w.marker = 'rg_contacts' and e.event_type = 'contact_rg')
            or (w.marker = 'self_exclusion_page_views'
                and e.event_type = 'self_exclusion_page_viewed')
        )
    group by w.marker, w.window_days, e.player_id

),

exclusions_started as (

    select distinct w.window_days, e.player_id
    from windows as w
    inner join events as e
        on w.marker = 'self_exclusion_page_views'
        and e.event_type = 'self_exclusion_started'
        and e.occurred_at > {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}

),

sessions as (

    select * from {{ ref('int_account_sessions') }}

),

session_markers as (

    select
        w.marker,
        w.window_days,
        s.player_id,
        sum(case when s.started_at > {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
                 then {{ dbt.datediff('s.started_at', 's.ended_at', 'second') }} else 0 end)
            / 3600.0 as recent_hours,
        sum(case when s.started_at <= {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
                 then {{ dbt.datediff('s.started_at', 's.ended_at', 'second') }} else 0 end)
            / 3600.0 as prior_hours,
        sum(case when s.started_at > {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
                 then 1 else 0 end) as evidence_count
    from windows as w
    inner join sessions as s
        on w.marker = 'session_hours_rise_pct'
        and s.started_at > {{ dbt.dateadd('day', '-2 * w.window_days', as_of_ts) }}
    group by w.marker, w.window_days, s.player_id

),

final as (

    select marker, window_days, player_id, cast(value as double) as value, evidence_count
    from payment_markers

    union all

    select m.marker, m.window_days, m.player_id, cast(m.value as double), m.evidence_count
    from event_markers as m
    left join exclusions_started as x
        on m.marker = 'self_exclusion_page_views'
        and x.window_days = m.window_days and x.player_id = m.player_id
    where x.player_id is null  -- a player who completed the self-exclusion is not "repeating"

    union all

    -- only against time that was there before: a new player has no rise to measure
    select marker, window_days, player_id,
        cast((recent_hours - prior_hours) * 100.0 / prior_hours as double), evidence_count
    from session_markers
    where prior_hours > 0

)

select * from final
