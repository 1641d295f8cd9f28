{#- Score history: one row per player per scoring run (appended; a re-run of the same run_id
    replaces its rows; never rebuilt, not even by --full-refresh). Component scores in [0, 1]
    (null = absent), the composite, the category and the evidence behind every component. See _marts__models.yml and the README. -#}

{%- set run = current_run() %}
{%- set profile = active_profile() %}
{%- set by_probability = profile is not none and var('category_basis') == 'probability' %}

{{
    config(
        materialized='incremental',
        unique_key='run_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        full_refresh=false,
        tmp_relation_type=var('tmp_relation_type', 'table')
    )
}}

with

players as (

    select * from {{ ref('int_players_windowed') }}

),

chases as (

    select * from {{ ref('int_settlements_followed') }}

),

assessed as (

    select * from {{ ref('int_players_assessed') }}

),

population as (

    select * from {{ ref('int_population_references') }}

),

money as (

    select * from {{ ref('int_player_money') }}

),

-- the population terms of the money statistics, applied after the per-player ones: how much
-- more often than in their own baseline the book's players with a full baseline deposit,
-- deposit after a loss and reload in the recent window (a shared event -- a final, a holiday
-- -- moves everyone's deposits; a player is measured against their own past times that
-- move), and whether the book holds any money data at all (none: the component is absent)
money_population as (

    select
        count(*) as money_players,
        {%- for column in ['deposits', 'deposits_after_loss', 'reloads'] %}
        (sum(case when full_baseline then money_recent_{{ column }} else 0 end) + 1.0)
            / (sum(case when full_baseline then money_baseline_{{ column }} else 0 end)
               * {{ var('recent_window_days') }} / {{ var('baseline_window_days') }} + 1.0)
            as {{ column }}_move,
        coalesce(sum(case when full_baseline then money_baseline_{{ column }} else 0 end)
                 / nullif(sum(case when full_baseline then 1 else 0 end), 0), 0.0)
            / {{ var('baseline_window_days') }} as {{ column }}_daily_rate{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select money.*, players.account_age_days
            >= {{ var('recent_window_days') + var('baseline_window_days') }} as full_baseline
        from money
        inner join players on players.player_id = money.player_id
    ) as held

),

features as (

    select
        players.*,
        coalesce(chases.recent_settled_losses, 0) as recent_settled_losses,
        coalesce(chases.recent_chased_losses, 0) as recent_chased_losses,
        coalesce(chases.chase_settled_losses, 0) as chase_settled_losses,
        coalesce(chases.chased_losses, 0) as chased_losses,
        coalesce(chases.chase_settled_wins, 0) as chase_settled_wins,
        coalesce(chases.wins_followed_bigger, 0) as wins_followed_bigger,
        chases.median_minutes_to_chase,
        chases.chase_stake_ratio,
        money.money_deposits_30d,
        money.money_deposit_count_30d,
        money.money_withdrawals_30d,
        money.money_cancelled_withdrawals_30d,
        money.money_declined_deposits_30d,
        money.money_payment_methods_90d,
        money.money_limit_changes_30d,
        money.money_rg_page_visits_30d,
        money.money_session_hours_30d,
        {%- for name in ['recent', 'baseline'] %}
        {%- for column in ['deposits', 'deposits_after_loss', 'reloads', 'declined_deposits',
                           'reversed_withdrawals', 'limit_raises', 'limit_removals',
                           'self_exclusion_views', 'rg_contacts', 'protective_acts'] %}
        coalesce(money.money_{{ name }}_{{ column }}, 0) as money_{{ name }}_{{ column }},
        {%- endfor %}
        {%- endfor %}
        coalesce(money.money_recent_deposit_methods, 0) as money_recent_deposit_methods,
        money_population.money_players > 0 as has_money_data,
        -- the share of the baseline window the account existed (0 for an account younger than
        -- the recent window): a new account's past is not a baseline of zero deposits
        least(greatest(cast(players.account_age_days as double) - {{ var('recent_window_days') }}, 0.0),
              {{ var('baseline_window_days') }}) / {{ var('baseline_window_days') }} as money_baseline_span,
        money_population.deposits_move as money_deposits_move,
        money_population.deposits_after_loss_move as money_deposits_after_loss_move,
        money_population.reloads_move as money_reloads_move,
        money_population.deposits_daily_rate as money_deposits_daily_rate,
        money_population.deposits_after_loss_daily_rate as money_deposits_after_loss_daily_rate,
        money_population.reloads_daily_rate as money_reloads_daily_rate,
        assessed.assessment_id as gamalyze_assessment_id,
        assessed.assessed_at as gamalyze_assessed_at,
        assessed.risk_score as gamalyze_risk_score,
        players.baseline_bets >= {{ var('min_baseline_bets') }} as has_baseline,
        players.account_age_days <= 2 * {{ var('recent_window_days') }} as is_new_account,
        -- the reference rate of the chase behaviour: the player's own after-win rate, shrunk
        -- toward the player's rate after any settlement (itself shrunk toward the
        -- population's after-win rate), so a player who re-bets the same way after wins and
        -- losses has the same expected and observed rate however often they re-bet
        {{ shrunk_share('coalesce(chases.wins_followed_bigger, 0)', 'coalesce(chases.chase_settled_wins, 0)',
            shrunk_share('coalesce(chases.wins_followed_bigger, 0) + coalesce(chases.chased_losses, 0)',
                         'coalesce(chases.chase_settled_wins, 0) + coalesce(chases.chase_settled_losses, 0)',
                         'population.after_win_rate')) }} as expected_chase_rate,
        coalesce(chases.losing_days_followed, 0) as losing_days_followed,
        coalesce(chases.other_days_followed, 0) as other_days_followed,
        coalesce(chases.log_staked_rise_after_losing_days, 0.0) as log_staked_rise_after_losing_days,
        coalesce(chases.log_staked_rise_after_other_days, 0.0) as log_staked_rise_after_other_days,
        population.log_activity_shift,
        population.new_sport_share as population_new_sport_share,
        {%- for flag in ['live', 'niche', 'longshot', 'late_night'] %}
        -- what this player's recent share would be with no personal change: their own
        -- baseline share (shrunk toward the population's) moved by the population's shift
        least(1.0, greatest(0.0,
            {{ shrunk_share('players.baseline_' ~ flag ~ '_bets', 'players.baseline_bets',
                            'population.baseline_' ~ flag ~ '_share') }}
            + population.{{ flag }}_shift)) as expected_{{ flag }}_share{% if not loop.last %},{% endif %}
        {%- endfor %}

    from players
    cross join population
    cross join money_population
    left join chases on chases.player_id = players.player_id
    left join assessed on assessed.player_id = players.player_id
    left join money on money.player_id = players.player_id

),

signals as (

    select
        features.*,
        -- loss chasing: the rate after losses over the expected rate, weighted by the number
        -- of losses, in the chase window or the recent window, whichever is stronger
        greatest(
            {{ share_rise('chased_losses', 'chase_settled_losses', 'expected_chase_rate') }},
            {{ share_rise('recent_chased_losses', 'recent_settled_losses', 'expected_chase_rate') }}
        ) as chase_rise,
        -- chasing across sessions: the next day's staked (bets and mean stake against the
        -- player's own level, beyond the book's move) after a losing day, less the same after
        -- any other day; each mean shrunk toward 0 (the player's own level) with a prior worth
        -- prior_strength_days days
        (log_staked_rise_after_losing_days / (losing_days_followed + {{ var('prior_strength_days') }})
         - log_staked_rise_after_other_days / (other_days_followed + {{ var('prior_strength_days') }}))
            as session_chase_rise,
        -- stake level: the median over calm recent days (not a shock day, not the day after
        -- a losing day) of the day's median planned stake (bets not placed right after a
        -- settlement) against the player's baseline level, beyond the book's move that day
        {{ evidence_weight_days('recent_level_days') }} * recent_log_stake_deviation
            as stake_level_rise,
        -- stake trend: the fitted change of the day-adjusted median stake from the player's
        -- first to last active day of the window (a slow ramp that the recent-vs-baseline
        -- level only partly sees), shrunk by its own precision: normal-normal shrinkage with
        -- a prior of sd stake_trend_prior_sd, weight tau^2 / (tau^2 + SE^2)
        -- (a trend counts while the player still plays: none without a recent active day, so
        -- a player who stops sees the score decay)
        case when recent_active_days > 0 then
            {{ var('stake_trend_prior_sd') }} * {{ var('stake_trend_prior_sd') }}
            / ({{ var('stake_trend_prior_sd') }} * {{ var('stake_trend_prior_sd') }}
               + coalesce(stake_trend_standard_error * stake_trend_standard_error, 0.0))
            * weekly_log_stake_growth * active_span_days / 7.0
        else 0.0 end as stake_trend_rise,
        -- frequency: bets per active day against the player's own (median over recent days,
        -- beyond the book's move) and, at half weight, a rise in the share of days active
        -- beyond the population's
        case when recent_active_days > 0 and baseline_active_days > 0 then
            {{ evidence_weight_days('greatest(coalesce(recent_ordinary_active_days, 0), 1)') }}
            * (coalesce(recent_log_bets_deviation, 0.0)
               + 0.5 * greatest({{ log_activity_ratio('recent_ordinary_active_days', 'baseline_active_days', 'account_age_days', 'recent_shock_days') }}
                                - log_activity_shift, 0.0))
        end as intensity_rise,
        {%- for flag in ['live', 'niche', 'longshot', 'late_night'] %}
        {{ share_rise('recent_' ~ flag ~ '_bets', 'recent_bets', 'expected_' ~ flag ~ '_share') }}
            as {{ flag }}_rise,
        {%- endfor %}
        case when baseline_bets >= 2 * {{ var('min_baseline_bets') }} then
            {{ share_rise('recent_personal_new_sport_bets', 'recent_bets',
                          'population_new_sport_share') }}
        else 0.0 end as new_sport_rise,
        -- money: what the player's own baseline predicts for the recent window, for the
        -- frequency markers: the baseline's daily rate shrunk toward the population's with a
        -- prior worth recent_window_days days (a new account's expectation is the
        -- population's), over the recent window, times the book's move
        {%- for column in ['deposits', 'deposits_after_loss', 'reloads'] %}
        (money_baseline_{{ column }} + {{ var('recent_window_days') }} * money_{{ column }}_daily_rate)
            / (money_baseline_span * {{ var('baseline_window_days') }} + {{ var('recent_window_days') }})
            * {{ var('recent_window_days') }} * money_{{ column }}_move as expected_{{ column }},
        {%- endfor %}
    from features

),

components as (

    select
        signals.*,
        1.0 - (1.0 - {{ saturate('(chase_rise - ' ~ var('chase_margin') ~ ') / ' ~ var('chase_scale')) }})
            * (1.0 - {{ saturate('(session_chase_rise - ' ~ var('session_chase_margin') ~ ') / '
                                 ~ var('session_chase_scale')) }}) as loss_chase,
        case when has_baseline then
            1.0 - (1.0 - {{ saturate('stake_level_rise / ' ~ var('stake_level_scale')) }})
                * (1.0 - {{ saturate('(stake_trend_rise - ' ~ var('stake_trend_margin') ~ ') / '
                                     ~ var('stake_trend_scale')) }})
                * (1.0 - {{ saturate('(intensity_rise - ' ~ var('intensity_margin') ~ ') / '
                                     ~ var('intensity_scale')) }})
        end as bet_escalation,
        case when has_baseline then
            {{ saturate('(greatest(live_rise, 0.0) + greatest(niche_rise, 0.0)'
                        ~ ' + greatest(longshot_rise, 0.0) + greatest(new_sport_rise, 0.0)) / '
                        ~ var('drift_scale')) }}
        end as market_drift,
        -- the night share is absolute enough to read from the first days: a new account's
        -- expected share is the population's (its own baseline is empty, not zero)
        case when has_baseline or is_new_account then
            {{ saturate('late_night_rise / ' ~ var('late_night_scale')) }}
        end as temporal_risk,
        gamalyze_risk_score / 100.0 as gamalyze,
        case when has_money_data then {{ money_behaviour() }} end as money_behaviour

    from signals

),

scored as (

    select
        components.*,
        round({{ composite() }}, 6) as composite_risk_score

    from components

),

profiled as (

    select
        scored.*,
        {% if profile is not none -%}
        {{ profile_probability(profile) }} as risk_probability
        {%- else -%}
        cast(null as double) as risk_probability
        {%- endif %}

    from scored

),

-- The analysts' capacity ([queue] high_plus_max_share): HIGH and CRITICAL are kept for at
-- most that share of the players scored, the highest first; the rest of those above the HIGH
-- cut-off read MEDIUM (1.0, the default, caps nothing). Monotone: a higher score never gets
-- a lower category.
ranked as (

    select
        profiled.*,
        row_number() over (
            order by {{ 'risk_probability' if by_probability else 'composite_risk_score' }} desc,
                     player_id) as capacity_rank,
        count(*) over () as capacity_players

    from profiled

),

final as (

    select
        player_id,
        state,
        '{{ run.run_id }}' as run_id,
        cast('{{ run.as_of }}' as timestamp) as as_of,
        cast('{{ run.scored_at }}' as timestamp) as scored_at,
        '{{ var("scoring_version") }}' as scoring_version,
        composite_risk_score,
        {%- set category -%}
        {%- if by_probability -%}
        {{ risk_category('risk_probability', var('probability_threshold_critical'),
                         var('probability_threshold_high'), var('probability_threshold_medium')) }}
        {%- else -%}
        {{ risk_category('composite_risk_score', var('threshold_critical'),
                         var('threshold_high'), var('threshold_medium')) }}
        {%- endif -%}
        {%- endset %}
        {% if var('high_plus_max_share') | float < 1.0 -%}
        case when capacity_rank > ceil({{ var('high_plus_max_share') }} * capacity_players)
                  and ({{ category }}) in {{ sql_list(var('high_plus_categories')) }}
            then '{{ var('categories')[var('high_plus_categories') | length] }}' else {{ category }} end as risk_category,
        {%- else -%}
        {{ category }} as risk_category,
        {%- endif %}
        -- the strongest component names the driver, except that chasing explains the rise in
        -- stakes that comes with it: loss_chase is named when it reaches driver_chase_share of
        -- the strongest (a chaser's stakes rise too, but the chase is the behaviour)
        {{ primary_driver() }} as primary_driver,
        round(loss_chase, 6) as loss_chase,
        round(bet_escalation, 6) as bet_escalation,
        round(market_drift, 6) as market_drift,
        round(temporal_risk, 6) as temporal_risk,
        round(gamalyze, 6) as gamalyze,
        round(money_behaviour, 6) as money_behaviour,
        loss_chase is not null as has_loss_chase,
        bet_escalation is not null as has_bet_escalation,
        market_drift is not null as has_market_drift,
        temporal_risk is not null as has_temporal_risk,
        gamalyze is not null as has_gamalyze,
        money_behaviour is not null as has_money_behaviour,
        recent_bets + baseline_bets < {{ var('min_bets') }} as is_low_confidence,
        -- evidence --------------------------------------------------------------------------
        last_bet_at,
        cast(recent_bets as bigint) as recent_bets,
        cast(baseline_bets as bigint) as baseline_bets,
        cast(recent_active_days as bigint) as recent_active_days,
        cast(baseline_active_days as bigint) as baseline_active_days,
        cast(recent_settled_losses as bigint) as recent_settled_losses,
        cast(chased_losses as bigint) as chased_losses,
        round({{ safe_div('chased_losses', 'chase_settled_losses') }}, 4) as chased_loss_share,
        round({{ safe_div('wins_followed_bigger', 'chase_settled_wins') }}, 4) as bigger_after_win_share,
        round(median_minutes_to_chase, 2) as median_minutes_to_chase,
        round(chase_stake_ratio, 3) as chase_stake_ratio,
        round(baseline_median_stake, 2) as baseline_median_stake,
        round(recent_median_stake, 2) as recent_median_stake,
        round({{ safe_div('recent_median_stake', 'baseline_median_stake') }}, 3) as stake_ratio,
        round(weekly_stake_growth, 4) as weekly_stake_growth,
        round({{ safe_div('recent_live_bets', 'recent_bets') }}, 4) as recent_live_share,
        round({{ safe_div('baseline_live_bets', 'baseline_bets') }}, 4) as baseline_live_share,
        round({{ safe_div('recent_niche_bets', 'recent_bets') }}, 4) as recent_niche_share,
        round({{ safe_div('baseline_niche_bets', 'baseline_bets') }}, 4) as baseline_niche_share,
        round({{ safe_div('recent_longshot_bets', 'recent_bets') }}, 4) as recent_longshot_share,
        round({{ safe_div('baseline_longshot_bets', 'baseline_bets') }}, 4) as baseline_longshot_share,
        round({{ safe_div('recent_bets_on_new_sports', 'recent_bets') }}, 4) as recent_new_sport_share,
        round({{ safe_div('recent_late_night_bets', 'recent_bets') }}, 4) as recent_late_night_share,
        round({{ safe_div('baseline_late_night_bets', 'baseline_bets') }}, 4) as baseline_late_night_share,
        round({{ safe_div('recent_bets', 'recent_active_days') }}, 3) as recent_bets_per_active_day,
        round({{ safe_div('baseline_bets', 'baseline_active_days') }}, 3) as baseline_bets_per_active_day,
        gamalyze_assessment_id,
        gamalyze_assessed_at,
        gamalyze_risk_score,
        -- evidence added in scoring version 2: the counts each estimate rests on and the
        -- references it is compared with
        cast(recent_chased_losses as bigint) as recent_chased_losses,
        cast(chase_settled_losses as bigint) as chase_settled_losses,
        cast(chase_settled_wins as bigint) as chase_settled_wins,
        cast(wins_followed_bigger as bigint) as wins_followed_bigger,
        round(expected_chase_rate, 4) as expected_chase_rate,
        cast(recent_live_bets as bigint) as recent_live_bets,
        cast(recent_niche_bets as bigint) as recent_niche_bets,
        cast(recent_longshot_bets as bigint) as recent_longshot_bets,
        cast(recent_late_night_bets as bigint) as recent_late_night_bets,
        cast(recent_bets_on_new_sports as bigint) as recent_bets_on_new_sports,
        round(recent_personal_new_sport_bets, 3) as recent_personal_new_sport_bets,
        round(expected_live_share, 4) as expected_live_share,
        round(expected_niche_share, 4) as expected_niche_share,
        round(expected_longshot_share, 4) as expected_longshot_share,
        round(expected_late_night_share, 4) as expected_late_night_share,
        round({{ evidence_weight('recent_bets') }}, 4) as recent_evidence_weight,
        -- added with the outcomes loop (schema 2): level markers over the whole scoring
        -- window, and the calibrated probability of the applied profile (null without one)
        cast(window_active_days as bigint) as window_active_days,
        round(window_bets_per_active_day, 4) as window_bets_per_active_day,
        round(window_staked, 2) as window_staked,
        round(window_mean_stake, 4) as window_mean_stake,
        round(window_log_stake_sd, 4) as window_log_stake_sd,
        round(window_net_loss, 2) as window_net_loss,
        cast(account_age_days as bigint) as account_age_days,
        cast(lifetime_bets as bigint) as lifetime_bets,
        round(lifetime_staked, 2) as lifetime_staked,
        round(risk_probability, 6) as risk_probability,
        -- added in scoring version 3: persistence beyond the book's daily move, the whole-window
        -- stake trend, chasing across sessions and time spent (the counts behind each)
        round(recent_log_bets_deviation, 4) as recent_log_bets_deviation,
        round(recent_log_stake_deviation, 4) as recent_log_stake_deviation,
        cast(recent_elevated_days as bigint) as recent_elevated_days,
        cast(recent_level_days as bigint) as recent_level_days,
        round(stake_trend_rise, 4) as stake_trend_rise,
        round(stake_trend_standard_error, 4) as stake_trend_standard_error,
        round(intensity_rise, 4) as intensity_rise,
        cast(losing_days_followed as bigint) as losing_days_followed,
        cast(other_days_followed as bigint) as other_days_followed,
        round(session_chase_rise, 4) as session_chase_rise,
        round(chase_rise, 4) as chase_rise,
        round(recent_median_day_minutes, 1) as recent_median_day_minutes,
        round(baseline_median_day_minutes, 1) as baseline_median_day_minutes,
        -- added with the money picture (contract v1.1): payments and RG-tool use as of T, 0 for
        -- a player with neither (int_player_money); null only on rows scored before these
        -- columns existed (calibrate tells the two apart)
        round(cast(coalesce(money_deposits_30d, 0) as double), 2) as money_deposits_30d,
        cast(coalesce(money_deposit_count_30d, 0) as bigint) as money_deposit_count_30d,
        round(cast(coalesce(money_withdrawals_30d, 0) as double), 2) as money_withdrawals_30d,
        cast(coalesce(money_cancelled_withdrawals_30d, 0) as bigint) as money_cancelled_withdrawals_30d,
        cast(coalesce(money_declined_deposits_30d, 0) as bigint) as money_declined_deposits_30d,
        cast(coalesce(money_payment_methods_90d, 0) as bigint) as money_payment_methods_90d,
        cast(coalesce(money_limit_changes_30d, 0) as bigint) as money_limit_changes_30d,
        cast(coalesce(money_rg_page_visits_30d, 0) as bigint) as money_rg_page_visits_30d,
        round(cast(coalesce(money_session_hours_30d, 0) as double), 2) as money_session_hours_30d,
        -- added in scoring version 4: the money and RG-tool statistics behind money_behaviour
        -- (recent window vs the baseline window before it) and what the player's own past,
        -- times the book's move, predicts for the recent window
        {%- for name in ['recent', 'baseline'] %}
        {%- for column in ['deposits', 'deposits_after_loss', 'reloads', 'declined_deposits',
                           'reversed_withdrawals', 'limit_raises', 'limit_removals',
                           'self_exclusion_views', 'rg_contacts', 'protective_acts'] %}
        cast(money_{{ name }}_{{ column }} as bigint) as money_{{ name }}_{{ column }},
        {%- endfor %}
        {%- endfor %}
        cast(money_recent_deposit_methods as bigint) as money_recent_deposit_methods,
        round(expected_deposits, 3) as money_expected_deposits,
        round(expected_deposits_after_loss, 3) as money_expected_deposits_after_loss,
        round(expected_reloads, 3) as money_expected_reloads,
        is_new_account,
        {% if profile is not none -%}
        '{{ profile["version"] }}' as profile_version,
        cast({{ profile["horizon_days"] }} as bigint) as probability_horizon_days
        {%- else -%}
        cast(null as varchar) as profile_version,
        cast(null as bigint) as probability_horizon_days
        {%- endif %}

    from ranked

)

select * from final
