{#- Per active day, then per player: the active days in each window (a local day with
    bets on both sides of the window boundary counts in both), and the stake trajectory
    (Braverman & Shaffer 2012): the least-squares slope of log daily staked amount against the
    day, over every active day in the scoring window, expressed as growth per week (needs at
    least 8 active days). New sports: the recent bets on a sport the player never bet in the
    baseline window. -#}

with

bets as (

    select * from {{ ref('int_bets_windowed') }}

),

daily as (

    select
        player_id,
        local_day,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'local_day', 'day') }} as day_number,
        sum(stake) as staked,
        max(case when bet_window = 'recent' then 1 else 0 end) as is_recent_day,
        max(case when bet_window = 'baseline' then 1 else 0 end) as is_baseline_day

    from bets
    group by player_id, local_day

),

trends as (

    select
        player_id,
        count(*) as active_days,
        sum(is_recent_day) as recent_active_days,
        sum(is_baseline_day) as baseline_active_days,
        regr_slope(ln(staked), day_number) as log_stake_slope_per_day

    from daily
    group by player_id

),

sports as (

    select
        player_id,
        sport,
        sum(case when bet_window = 'recent' then 1 else 0 end) as recent_bets,
        sum(case when bet_window = 'baseline' then 1 else 0 end) as baseline_bets

    from bets
    group by player_id, sport

),

new_sports as (

    select
        player_id,
        sum(case when baseline_bets = 0 then recent_bets else 0 end) as recent_bets_on_new_sports

    from sports
    group by player_id

),

final as (

    select
        trends.player_id,
        trends.active_days,
        trends.recent_active_days,
        trends.baseline_active_days,
        case when trends.active_days >= 8
            then exp(7 * trends.log_stake_slope_per_day) - 1 end as weekly_stake_growth,
        coalesce(new_sports.recent_bets_on_new_sports, 0) as recent_bets_on_new_sports

    from trends
    left join new_sports on new_sports.player_id = trends.player_id

)

select * from final
