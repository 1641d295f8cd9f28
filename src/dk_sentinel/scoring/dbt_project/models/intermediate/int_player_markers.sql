{#- The markers the jurisdiction triggers read (dk_sentinel.jurisdictions.Marker), per player,
    for every (marker, window) the run's rules name.

    Counted markers (deposit amount and count, declined deposits, cancelled withdrawals, limit
    increases, self-exclusion page views, RG contacts) are evaluated, for the players whose
    records together reach the least threshold a rule sets for the marker (no one else can
    cross one), over **every trailing window that ends at one of the player's records**, not only the window ending at T: the
    value at a record is what the window (its time - window_days, its time] holds, so a
    $10,500 deposit run within 15 hours crosses a 24-hour threshold when its last deposit
    lands, whenever the file arrives or the run happens (data contract 4: everything on the
    rows' own timestamps). One row per record: the value and the count of records behind it
    at that moment (`measured_at`). The rolling sums are a running sum of +x at each record
    and -x when it leaves the window (window_days later), one sort per marker: no self-join.
    Payments are read as they stood at T (a withdrawal cancelled after T was still pending).

    Markers that are not sums -- distinct payment methods, time on site against the period
    before -- are measured at T (`measured_at` = T). The time-on-site rise carries its
    evidence (sessions and hours in both periods) and the population's rise over the same
    periods (the median over players with at least min_sessions_for_population sessions in
    each), so a rule can ask for a minimum baseline and be read beyond the book's change. -#}

{%- set as_of_ts = as_of() %}

{{ config(materialized='table') }}

with

windows as (

    select marker, window_days, min(threshold) as least_threshold
    from {{ source('ops', 'trigger_rules') }}
    group by marker, window_days

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

-- one row per record a counted marker reads: what it adds (amount or 1)
counted_records as (

    select
        w.marker,
        w.window_days,
        w.least_threshold,
        p.player_id,
        p.effective_at as recorded_at,
        case when w.marker = 'deposit_amount' then cast(p.amount as double) else 1.0 end as amount
    from windows as w
    inner join payment_rows as p
        on (w.marker in ('deposit_amount', 'deposit_count')
                and p.kind = 'deposit' and p.status = 'completed')
        or (w.marker = 'declined_deposits' and p.kind = 'deposit' and p.status = 'declined')
        or (w.marker = 'cancelled_withdrawals' and p.kind = 'withdrawal' and p.status = 'cancelled')

    union all

    select w.marker, w.window_days, w.least_threshold, e.player_id,
        e.occurred_at as recorded_at, 1.0 as amount
    from windows as w
    inner join events as e
        on (w.marker = 'limit_increases'
                and e.event_type in ('deposit_limit_increased', 'deposit_limit_removed'))
        or (w.marker = 'rg_contacts' and e.event_type = 'contact_rg')
        or (w.marker = 'self_exclusion_page_views' and e.event_type = 'self_exclusion_page_viewed')

),

-- the counted markers are sums of amounts that are never negative, so a window never holds
-- more than all of a player's records together: a player whose records together stay under
-- every rule's threshold for the marker can never cross one, and is not rolled (most of a
-- book: a $10,000 day needs $10,000 deposited in all)
records as (

    select counted_records.marker, counted_records.window_days, counted_records.player_id,
        counted_records.recorded_at, counted_records.amount
    from counted_records
    inner join (
        select marker, window_days, player_id
        from counted_records
        group by marker, window_days, player_id
        having sum(amount) >= min(least_threshold)
    ) as reachable
        on reachable.marker = counted_records.marker
       and reachable.window_days = counted_records.window_days
       and reachable.player_id = counted_records.player_id

),

-- each record enters its windows when it happens and leaves them window_days later; at the
-- same instant a leaving record goes first (a window is (t - window_days, t])
changes as (

    select marker, window_days, player_id, recorded_at as changed_at, 1 as is_arrival,
        amount, 1 as records
    from records
    union all
    select marker, window_days, player_id,
        {{ dbt.dateadd('day', 'window_days', 'recorded_at') }} as changed_at, 0 as is_arrival,
        -amount, -1 as records
    from records

),

rolling as (

    select
        marker,
        window_days,
        player_id,
        changed_at as measured_at,
        is_arrival,
        sum(amount) over (
            partition by marker, window_days, player_id
            order by changed_at, is_arrival
            rows between unbounded preceding and current row) as value,
        sum(records) over (
            partition by marker, window_days, player_id
            order by changed_at, is_arrival
            rows between unbounded preceding and current row) as evidence_count
    from changes

),

-- a player who completed the self-exclusion is not "repeating" the visit: page views up to
-- a completed exclusion no longer count
exclusions_started as (

    select player_id, max(occurred_at) as excluded_at
    from events
    where event_type = 'self_exclusion_started'
    group by player_id

),

counted as (

    select r.marker, r.window_days, r.player_id, r.measured_at, r.value, r.evidence_count
    from rolling as r
    left join exclusions_started as x
        on r.marker = 'self_exclusion_page_views' and x.player_id = r.player_id
        and x.excluded_at > {{ dbt.dateadd('day', '-r.window_days', 'r.measured_at') }}
    where r.is_arrival = 1
      and r.measured_at <= {{ as_of_ts }}
      and x.player_id is null

),

payment_methods as (

    select w.marker, w.window_days, p.player_id,
        cast({{ as_of_ts }} as timestamp) as measured_at,
        cast(count(distinct p.method_id) as double) as value, count(*) as evidence_count
    from windows as w
    inner join payment_rows as p
        on w.marker = 'payment_methods' and p.kind = 'deposit' and p.method_id is not null
        and p.effective_at > {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
    group by w.marker, w.window_days, p.player_id

),

sessions as (

    select * from {{ ref('int_account_sessions') }}

),

session_periods as (

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
                 then 1 else 0 end) as recent_sessions,
        sum(case when s.started_at <= {{ dbt.dateadd('day', '-w.window_days', as_of_ts) }}
                 then 1 else 0 end) as prior_sessions
    from windows as w
    inner join sessions as s
        on w.marker = 'session_hours_rise_pct'
        and s.started_at > {{ dbt.dateadd('day', '-2 * w.window_days', as_of_ts) }}
    group by w.marker, w.window_days, s.player_id

),

-- the book's change of time on site over the same periods: the median rise of the players
-- with enough sessions in both to measure one
population_time as (

    select
        marker,
        window_days,
        median((recent_hours - prior_hours) * 100.0 / prior_hours) as population_rise_pct,
        count(*) as population_players
    from session_periods
    where prior_hours > 0
      and prior_sessions >= {{ var('min_sessions_for_population') }}
      and recent_sessions >= {{ var('min_sessions_for_population') }}
    group by marker, window_days

),

final as (

    select marker, window_days, player_id, measured_at, cast(value as double) as value,
        cast(evidence_count as bigint) as evidence_count,
        cast(null as double) as prior_hours, cast(null as bigint) as prior_sessions,
        cast(null as bigint) as recent_sessions, cast(null as double) as population_rise_pct,
        cast(null as bigint) as population_players
    from counted

    union all

    select marker, window_days, player_id, measured_at, value,
        cast(evidence_count as bigint), null, null, null, null, null
    from payment_methods

    union all

    -- only against time that was there before: a new player has no rise to measure
    select
        s.marker, s.window_days, s.player_id, cast({{ as_of_ts }} as timestamp),
        cast((s.recent_hours - s.prior_hours) * 100.0 / s.prior_hours as double),
        cast(s.recent_sessions as bigint),
        s.prior_hours, cast(s.prior_sessions as bigint), cast(s.recent_sessions as bigint),
        p.population_rise_pct, cast(p.population_players as bigint)
    from session_periods as s
    left join population_time as p
        on p.marker = s.marker and p.window_days = s.window_days
    where s.prior_hours > 0

)

select * from final
