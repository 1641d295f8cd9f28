{#- The jurisdiction triggers that have fired by T (one row per player and trigger), with the
    evidence: the marker's value over the rule's window when it crossed the threshold, the count
    of records behind it, when it crossed (`crossed_at`: the latest crossing at or before T,
    wherever in the data held it lies, so a late file or a skipped run still fires the
    trigger, dated when it was crossed) and whether it still holds (`is_current`: the rule's
    window that exceeded the threshold last reaches T). A player's state (the suffix of the
    player id) selects its pack's rules; a state without its own pack gets the default pack's
    (state '*').

    A rule may ask for minimum evidence (`min_sessions` in each period and `min_prior_hours`
    before, for a time-on-site rise) and may be read beyond the book's change over the same
    period (`reading` = beyond_population: the player's rise divided by the population's,
    weighed n / (n + k) by the players it rests on); each row carries the population's rise,
    so a case opened by a literal reading shows what the book did. Rebuilt every run;
    `run_id` and `as_of` say which. -#}

{%- set run = current_run() %}

{{ config(materialized='table') }}

with

rules as (

    select * from {{ source('ops', 'trigger_rules') }}

),

markers as (

    select m.*, right(m.player_id, 2) as state
    from {{ ref('int_player_markers') }} as m

),

own_pack as (

    select distinct state from rules where state <> '*'

),

applicable as (

    select m.*, r.pack, r.pack_version, r.code, r.regulation, r.comparison, r.threshold,
        r.severity, r.action, r.deadline_hours, coalesce(r.reading, 'literal') as reading,
        coalesce(r.min_sessions, 0) as min_sessions,
        coalesce(r.min_prior_hours, 0.0) as min_prior_hours,
        coalesce(r.locks_case, r.action <> 'information') as locks_case
    from markers as m
    left join own_pack as o on o.state = m.state
    inner join rules as r
        on r.marker = m.marker and r.window_days = m.window_days
        and r.state = case when o.state is null then '*' else m.state end

),

judged as (

    select
        applicable.*,
        case when reading = 'beyond_population' and marker = 'session_hours_rise_pct' then
            ((1.0 + value / 100.0)
             / (1.0 + {{ evidence_weight('population_players') }}
                      * coalesce(population_rise_pct, 0.0) / 100.0) - 1.0) * 100.0
        else value end as judged_value,
        marker <> 'session_hours_rise_pct'
            or (coalesce(prior_sessions, 0) >= min_sessions
                and coalesce(recent_sessions, 0) >= min_sessions
                and coalesce(prior_hours, 0.0) >= min_prior_hours) as has_min_evidence
    from applicable

),

measured as (

    select
        judged.*,
        has_min_evidence and ((comparison = '>' and judged_value > threshold)
                              or (comparison = '>=' and judged_value >= threshold)) as exceeds
    from judged

),

-- only a player and rule with a measurement over the threshold can have crossed it: the
-- windows below order those alone
exceeding as (

    select distinct player_id, code from measured where exceeds

),

-- a crossing: a measurement over the threshold whose previous one (of the same player and
-- rule) was not
crossings as (

    select
        measured.*,
        max(case when measured.exceeds then measured.measured_at end) over (
            partition by measured.player_id, measured.code) as last_exceeding_at,
        measured.exceeds and not coalesce(lag(measured.exceeds) over (
            partition by measured.player_id, measured.code order by measured.measured_at),
            false) as is_crossing
    from measured
    inner join exceeding
        on exceeding.player_id = measured.player_id and exceeding.code = measured.code

),

latest as (

    select
        crossings.*,
        row_number() over (partition by player_id, code order by measured_at desc) as recency
    from crossings
    where is_crossing

),

final as (

    select
        '{{ run["run_id"] }}' as run_id,
        cast('{{ run["as_of"] }}' as timestamp) as as_of,
        player_id,
        state,
        pack,
        pack_version,
        code,
        regulation,
        marker,
        window_days,
        comparison,
        threshold,
        value,
        evidence_count,
        severity,
        action,
        deadline_hours,
        measured_at as crossed_at,
        last_exceeding_at > {{ dbt.dateadd('day', '-window_days', "cast('" ~ run["as_of"] ~ "' as timestamp)") }}
            as is_current,
        reading,
        locks_case,
        round(judged_value, 4) as judged_value,
        prior_hours,
        prior_sessions,
        recent_sessions,
        round(population_rise_pct, 4) as population_rise_pct,
        population_players
    from latest
    where recency = 1

)

select * from final
