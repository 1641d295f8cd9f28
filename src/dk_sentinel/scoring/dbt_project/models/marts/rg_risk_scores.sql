{#- Score history: one row per player per scoring run (appended; a re-run of the same run_id
    replaces its rows). Component scores in [0, 1] (null = absent), the composite, the
    category and the evidence behind every component. See _marts__models.yml and the README. -#}

{%- set run = current_run() %}

{{
    config(
        materialized='incremental',
        unique_key='run_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
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

features as (

    select
        players.*,
        coalesce(chases.recent_settled_losses, 0) as recent_settled_losses,
        coalesce(chases.chased_losses, 0) as chased_losses,
        coalesce(chases.recent_settled_wins, 0) as recent_settled_wins,
        coalesce(chases.wins_followed_bigger, 0) as wins_followed_bigger,
        chases.median_minutes_to_chase,
        chases.chase_stake_ratio,
        assessed.assessment_id as gamalyze_assessment_id,
        assessed.assessed_at as gamalyze_assessed_at,
        assessed.risk_score as gamalyze_risk_score,
        least(1.0, cast(players.recent_bets + players.baseline_bets as double) / {{ var('min_bets') }})
            as confidence,
        players.baseline_bets >= 5 as has_baseline

    from players
    left join chases on chases.player_id = players.player_id
    left join assessed on assessed.player_id = players.player_id

),

signals as (

    select
        features.*,
        {{ share_rise('chased_losses', 'recent_settled_losses',
                      'wins_followed_bigger + 3', 'recent_settled_wins + 20') }} as chase_rise,
        ln(greatest({{ safe_div('recent_median_stake', 'baseline_median_stake') }}, 1e-9)) as log_stake_ratio,
        {{ share_rise('recent_live_bets', 'recent_bets', 'baseline_live_bets', 'baseline_bets') }} as live_rise,
        {{ share_rise('recent_niche_bets', 'recent_bets', 'baseline_niche_bets', 'baseline_bets') }} as niche_rise,
        {{ share_rise('recent_longshot_bets', 'recent_bets', 'baseline_longshot_bets', 'baseline_bets') }} as longshot_rise,
        case when baseline_bets >= 10
            then greatest(coalesce({{ safe_div('recent_bets_on_new_sports', 'recent_bets') }}, 0.0) - 0.2, 0.0)
            else 0.0 end as new_sport_rise,
        {{ share_rise('recent_late_night_bets', 'recent_bets',
                      'baseline_late_night_bets', 'baseline_bets') }} as late_night_rise,
        case when recent_active_days >= 3 then ln(greatest(
            {{ safe_div(safe_div('recent_bets', 'recent_active_days'),
                        safe_div('baseline_bets', 'baseline_active_days')) }}, 1e-9)) end as log_intensity_ratio

    from features

),

components as (

    select
        signals.*,
        {{ clamp01('chase_rise / 0.4') }}
            * least(1.0, cast(recent_settled_losses as double) / {{ var('min_settled_losses') }})
            * confidence as loss_chase,
        case when has_baseline then (
            1.0 - (1.0 - {{ clamp01('log_stake_ratio / ln(3.0)') }})
                * (1.0 - {{ clamp01('(weekly_stake_growth - 0.10) / 0.40') }})
        ) * confidence end as bet_escalation,
        case when has_baseline then
            {{ clamp01('(live_rise + niche_rise + longshot_rise + new_sport_rise) / 0.5') }}
            * confidence end as market_drift,
        case when has_baseline then (
            1.0 - (1.0 - {{ clamp01('late_night_rise / 0.30') }})
                * (1.0 - {{ clamp01('(log_intensity_ratio - ln(1.25)) / ln(3.0)') }})
        ) * confidence end as temporal_risk,
        gamalyze_risk_score / 100.0 as gamalyze

    from signals

),

scored as (

    select
        components.*,
        round({{ composite('loss_chase', 'bet_escalation', 'market_drift', 'temporal_risk', 'gamalyze',
                           var('weight_loss_chase'), var('weight_bet_escalation'),
                           var('weight_market_drift'), var('weight_temporal_risk'),
                           var('weight_gamalyze')) }}, 6) as composite_risk_score

    from components

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
        {{ risk_category('composite_risk_score', var('threshold_critical'),
                         var('threshold_high'), var('threshold_medium')) }} as risk_category,
        case greatest(coalesce(loss_chase, 0), coalesce(bet_escalation, 0),
                      coalesce(market_drift, 0), coalesce(temporal_risk, 0), coalesce(gamalyze, 0))
            when 0 then null
            when coalesce(loss_chase, 0) then 'loss_chase'
            when coalesce(bet_escalation, 0) then 'bet_escalation'
            when coalesce(market_drift, 0) then 'market_drift'
            when coalesce(temporal_risk, 0) then 'temporal_risk'
            else 'gamalyze' end as primary_driver,
        round(loss_chase, 6) as loss_chase,
        round(bet_escalation, 6) as bet_escalation,
        round(market_drift, 6) as market_drift,
        round(temporal_risk, 6) as temporal_risk,
        round(gamalyze, 6) as gamalyze,
        loss_chase is not null as has_loss_chase,
        bet_escalation is not null as has_bet_escalation,
        market_drift is not null as has_market_drift,
        temporal_risk is not null as has_temporal_risk,
        gamalyze is not null as has_gamalyze,
        recent_bets + baseline_bets < {{ var('min_bets') }} as is_low_confidence,
        -- evidence --------------------------------------------------------------------------
        last_bet_at,
        cast(recent_bets as bigint) as recent_bets,
        cast(baseline_bets as bigint) as baseline_bets,
        cast(recent_active_days as bigint) as recent_active_days,
        cast(baseline_active_days as bigint) as baseline_active_days,
        cast(recent_settled_losses as bigint) as recent_settled_losses,
        cast(chased_losses as bigint) as chased_losses,
        round({{ safe_div('chased_losses', 'recent_settled_losses') }}, 4) as chased_loss_share,
        round({{ safe_div('wins_followed_bigger', 'recent_settled_wins') }}, 4) as bigger_after_win_share,
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
        gamalyze_risk_score

    from scored

)

select * from final
