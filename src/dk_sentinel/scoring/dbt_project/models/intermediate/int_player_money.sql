{#- The money picture as of T, per player with a payment or an account event held (data
    contract 4 and 5): the one definition of these markers. A live run's copy is what
    `sentinel analyze`, the API and the console show (scoring.SERVED_MONEY); rg_risk_scores
    keeps them with each score, so `calibrate` can offer them as features at every past as-of.

    Scoring v4 reads its money_behaviour component from the per-player statistics below (the
    recent window (T - recent, T] against the baseline window before it, as for the bets):
    - re-deposits after a loss: deposits asked for (completed or declined) within
      chase_window_minutes after one of the player's lost bets settled, while playing (a
      betting day begun before it, its last bet at most 6 hours before) or with an earlier deposit in the 6 hours
      before (money chasing: the deposit that starts a session is how anyone funds play);
    - reloads: deposits asked for within 2 hours of the player's previous deposit request;
    - reversed withdrawals (status cancelled), declined deposits, deposit methods;
    - deposit limits raised or removed, self-exclusion page views, contacts with RG support
      (data contract 5's markers) and the protective acts (a limit set or lowered, a timeout
      or self-exclusion the player starts), which are shown and never raise the score.
    Each payment is read as it stood at T (its latest status row at or before T). Nothing here
    compares a player with anyone else: population terms are applied in rg_risk_scores. -#}

{%- set as_of_ts = as_of() %}
{%- set since_30 = dbt.dateadd('day', -30, as_of_ts) %}
{%- set since_90 = dbt.dateadd('day', -90, as_of_ts) %}
{%- set windows = [1, 7, 30, 90] %}  {#- the windows analyze shows #}
{%- set recent_from = dbt.dateadd('day', -var('recent_window_days'), as_of_ts) %}
{%- set window_from = dbt.dateadd('day', -(var('recent_window_days') + var('baseline_window_days')), as_of_ts) %}

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
        sum(case when event_type in {{ sql_list(var('rg_page_events')) }} then 1 else 0 end)
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

-- each payment as it stood at T: its latest status row at or before T
payment_states as (

    select player_id, payment_id, kind, status, requested_at, completed_at, method_id
    from (
        select
            *,
            row_number() over (
                partition by payment_id
                order by coalesce(completed_at, requested_at) desc, loaded_at desc) as newest
        from {{ source('sentinel', 'payments') }}
        where coalesce(completed_at, requested_at) <= {{ as_of_ts }}
          and requested_at > {{ window_from }}
    ) as history
    where newest = 1

),

deposit_requests as (

    select player_id, requested_at, status, method_id
    from payment_states
    where kind = 'deposit' and status in ('completed', 'declined', 'pending', 'reversed')

),

-- the UTC dates a loss may have settled on and still be at most chase_window_minutes before
-- the deposit: the deposit's own, and the day before when the window reaches back into it
deposit_loss_days as (

    select player_id, requested_at, cast(requested_at as date) as loss_day
    from deposit_requests
    union all
    select player_id, requested_at,
        cast({{ dbt.dateadd('minute', -var('chase_window_minutes'), 'requested_at') }} as date)
    from deposit_requests
    where cast({{ dbt.dateadd('minute', -var('chase_window_minutes'), 'requested_at') }} as date)
          <> cast(requested_at as date)

),

-- deposits that follow one of the player's lost bets settled at most chase_window_minutes
-- before (a loss settled at the same instant counts): each deposit against the player's
-- losses settled on those dates (read from the kept bets, by the contract's statuses: what
-- int_bets_windowed calls a settled loss), an equi-join, not a sort of every loss
deposits_after_loss as (

    select distinct deposits.player_id, deposits.requested_at
    from deposit_loss_days as deposits
    inner join {{ ref('int_bets_localised') }} as bets
        on bets.player_id = deposits.player_id
       and cast(bets.settled_at as date) = deposits.loss_day
    where bets.status in ('lost', 'cashout') and bets.payout < bets.stake
      and bets.placed_at > {{ window_from }} and bets.placed_at <= {{ as_of_ts }}
      and bets.settled_at <= {{ as_of_ts }}
      and bets.settled_at <= deposits.requested_at
      and bets.settled_at >= {{ dbt.dateadd('minute', -var('chase_window_minutes'), 'deposits.requested_at') }}

),

-- of those, the deposits asked for while playing: a betting day of the player's
-- (int_player_days, kept between runs) began before the deposit and its last bet is at most
-- 6 hours before it (only a deposit after a loss needs this: a tenth of them)
deposits_in_session as (

    select distinct after_loss.player_id, after_loss.requested_at
    from deposits_after_loss as after_loss
    inner join {{ ref('int_player_days') }} as days
        on days.player_id = after_loss.player_id
    where days.local_day >= cast({{ dbt.dateadd('day', -1, 'after_loss.requested_at') }} as date)
      and days.local_day <= cast(after_loss.requested_at as date)
      and days.first_placed_at < after_loss.requested_at
      and days.last_placed_at >= {{ dbt.dateadd('hour', -6, 'after_loss.requested_at') }}

),

deposits_marked as (

    select
        ordered.player_id,
        ordered.requested_at,
        ordered.status,
        -- a re-deposit after a loss: while playing, or with a deposit in the 6 hours before
        -- (the deposit that starts a session is how anyone funds play)
        case when after_loss.player_id is not null
                  and (ordered.previous_deposit_at >= {{ dbt.dateadd('hour', -6, 'ordered.requested_at') }}
                       or sessions.player_id is not null)
            then 1 else 0 end as follows_loss,
        case when ordered.previous_deposit_at >= {{ dbt.dateadd('minute', -120, 'ordered.requested_at') }}
            then 1 else 0 end as is_reload
    from (
        select
            *,
            lag(requested_at) over (partition by player_id order by requested_at)
                as previous_deposit_at
        from deposit_requests
    ) as ordered
    left join deposits_after_loss as after_loss
        on after_loss.player_id = ordered.player_id
       and after_loss.requested_at = ordered.requested_at
    left join deposits_in_session as sessions
        on sessions.player_id = ordered.player_id
       and sessions.requested_at = ordered.requested_at

),

deposit_statistics as (

    select
        player_id,
        {%- for name, within in [('recent', 'requested_at > ' ~ recent_from),
                                 ('baseline', 'requested_at <= ' ~ recent_from)] %}
        sum(case when {{ within }} and status = 'completed' then 1 else 0 end)
            as money_{{ name }}_deposits,
        sum(case when {{ within }} and status in ('completed', 'declined') and follows_loss = 1
                 then 1 else 0 end) as money_{{ name }}_deposits_after_loss,
        sum(case when {{ within }} and status = 'completed' and is_reload = 1 then 1 else 0 end)
            as money_{{ name }}_reloads,
        sum(case when {{ within }} and status = 'declined' then 1 else 0 end)
            as money_{{ name }}_declined_deposits,
        {%- endfor %}
        min(requested_at) as money_first_deposit_at
    from deposits_marked
    group by player_id

),

other_payment_statistics as (

    select
        player_id,
        sum(case when kind = 'withdrawal' and status = 'cancelled' and completed_at > {{ recent_from }}
                 then 1 else 0 end) as money_recent_reversed_withdrawals,
        sum(case when kind = 'withdrawal' and status = 'cancelled' and completed_at <= {{ recent_from }}
                 then 1 else 0 end) as money_baseline_reversed_withdrawals,
        count(distinct case when kind = 'deposit' and status = 'completed' and requested_at > {{ recent_from }}
                            then method_id end) as money_recent_deposit_methods
    from payment_states
    group by player_id

),

{%- set tool_events = {
    'limit_raises': "('deposit_limit_increased')",
    'limit_removals': "('deposit_limit_removed')",
    'self_exclusion_views': "('self_exclusion_page_viewed')",
    'rg_contacts': "('contact_rg')",
    'protective_acts': "('deposit_limit_set', 'deposit_limit_decreased', 'timeout_started', 'self_exclusion_started')",
} %}

tool_statistics as (

    select
        player_id,
        {%- for name, types in tool_events.items() %}
        sum(case when event_type in {{ types }} and occurred_at > {{ recent_from }} then 1 else 0 end)
            as money_recent_{{ name }},
        sum(case when event_type in {{ types }} and occurred_at <= {{ recent_from }} then 1 else 0 end)
            as money_baseline_{{ name }},
        {%- endfor %}
        max(case when event_type in {{ tool_events['protective_acts'] }} then occurred_at end)
            as money_last_protective_at
    from {{ source('sentinel', 'account_events') }}
    where occurred_at > {{ window_from }} and occurred_at <= {{ as_of_ts }}
    group by player_id

),

players as (

    select player_id from payments
    union
    select player_id from events
    union
    select player_id from sessions
    union
    select player_id from tool_statistics

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
    coalesce(s.money_session_hours_30d, 0) as money_session_hours_30d,
    -- scoring v4's per-player statistics (recent window vs the baseline window before it)
    {%- for name in ['recent', 'baseline'] %}
    {%- for column in ['deposits', 'deposits_after_loss', 'reloads', 'declined_deposits'] %}
    coalesce(d.money_{{ name }}_{{ column }}, 0) as money_{{ name }}_{{ column }},
    {%- endfor %}
    coalesce(o.money_{{ name }}_reversed_withdrawals, 0) as money_{{ name }}_reversed_withdrawals,
    {%- for column in tool_events %}
    coalesce(t.money_{{ name }}_{{ column }}, 0) as money_{{ name }}_{{ column }},
    {%- endfor %}
    {%- endfor %}
    coalesce(o.money_recent_deposit_methods, 0) as money_recent_deposit_methods,
    d.money_first_deposit_at,
    t.money_last_protective_at
from players
left join payments as p on p.player_id = players.player_id
left join events as e on e.player_id = players.player_id
left join sessions as s on s.player_id = players.player_id
left join deposit_statistics as d on d.player_id = players.player_id
left join other_payment_statistics as o on o.player_id = players.player_id
left join tool_statistics as t on t.player_id = players.player_id
