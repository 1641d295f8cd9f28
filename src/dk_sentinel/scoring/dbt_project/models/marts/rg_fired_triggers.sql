{#- The jurisdiction triggers that fire as of T (one row per player and trigger), with the
    evidence: the marker's value over the rule's window and the count of records behind it.
    A player's state (the suffix of the player id) selects its pack's rules; a state without
    its own pack gets the default pack's (state '*'). Rebuilt every run; `run_id` and `as_of`
    say which. -#}

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
        r.severity, r.action, r.deadline_hours
    from markers as m
    left join own_pack as o on o.state = m.state
    inner join rules as r
        on r.marker = m.marker and r.window_days = m.window_days
        and r.state = case when o.state is null then '*' else m.state end

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
        deadline_hours
    from applicable
    where (comparison = '>' and value > threshold)
       or (comparison = '>=' and value >= threshold)

)

select * from final
