{#- One row: what the whole population did in the same windows, the reference every player's
    change is measured against (changes that everyone makes at once -- a season start, a
    night-time tournament, a market the book launches -- are not personal drift).
    - baseline shares: the mean baseline share of live / niche / longshot / late-night bets
      over players with a baseline (the prior of each player's own baseline share);
    - shifts: the mean change (recent share - baseline share, log ratios of stakes and bets
      per active day, weekly log growth of daily staked, the log ratio of the share of days
      active) over players with at least min_baseline_bets bets in each window;
    - new-sport share: the mean share of recent bets on personally new sports (season-weighted,
      see int_players_windowed) over players with a full baseline;
    - after-win rate: the share of all settled wins followed by a bigger bet (the prior of each
      player's own after-win rate). -#}

with

players as (

    select * from {{ ref('int_players_windowed') }}

),

chases as (

    select * from {{ ref('int_settlements_followed') }}

),

with_baseline as (

    select * from players where baseline_bets >= {{ var('min_baseline_bets') }}

),

comparable as (

    select * from with_baseline where recent_bets >= {{ var('min_baseline_bets') }}

),

levels as (

    select
        count(*) as players_with_baseline,
        {%- for flag in ['live', 'niche', 'longshot', 'late_night'] %}
        coalesce(avg({{ safe_div('baseline_' ~ flag ~ '_bets', 'baseline_bets') }}), 0.0)
            as baseline_{{ flag }}_share,
        {%- endfor %}
        coalesce(avg(case when baseline_bets >= 2 * {{ var('min_baseline_bets') }} and recent_bets > 0
            then {{ safe_div('recent_personal_new_sport_bets', 'recent_bets') }} end), 0.0)
            as new_sport_share

    from with_baseline

),

shifts as (

    select
        count(*) as comparable_players,
        {%- for flag in ['live', 'niche', 'longshot', 'late_night'] %}
        coalesce(avg({{ safe_div('recent_' ~ flag ~ '_bets', 'recent_bets') }}
                     - {{ safe_div('baseline_' ~ flag ~ '_bets', 'baseline_bets') }}), 0.0)
            as {{ flag }}_shift,
        {%- endfor %}
        coalesce(avg(ln({{ safe_div('recent_median_stake', 'baseline_median_stake') }})), 0.0)
            as log_stake_ratio_shift,
        coalesce(avg(case when recent_active_days >= 3 and baseline_active_days > 0
            then ln({{ safe_div(safe_div('recent_bets', 'recent_active_days'),
                                safe_div('baseline_bets', 'baseline_active_days')) }}) end), 0.0)
            as log_intensity_shift,
        coalesce(avg(weekly_log_stake_growth), 0.0) as weekly_log_growth_shift,
        coalesce(avg({{ log_activity_ratio('recent_ordinary_active_days', 'baseline_active_days', 'account_age_days', 'recent_shock_days') }}), 0.0)
            as log_activity_shift

    from comparable

),

after_wins as (

    select
        coalesce({{ safe_div('sum(wins_followed_bigger)', 'sum(chase_settled_wins)') }}, 0.0)
            as after_win_rate

    from chases

),

final as (

    select levels.*, shifts.*, after_wins.*
    from levels
    cross join shifts
    cross join after_wins

)

select * from final
