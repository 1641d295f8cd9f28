{#- Per player: counts, stake medians and market / time shares in the recent window and in
    the baseline window (the windows never overlap). -#}

with

bets as (

    select * from {{ ref('int_bets_windowed') }}

),

final as (

    select
        player_id,
        max(state) as state,
        max(placed_at) as last_bet_at,
        sum(case when bet_window = 'recent' then 1 else 0 end) as recent_bets,
        sum(case when bet_window = 'baseline' then 1 else 0 end) as baseline_bets,
        count(distinct case when bet_window = 'recent' then local_day end) as recent_active_days,
        count(distinct case when bet_window = 'baseline' then local_day end) as baseline_active_days,
        median(case when bet_window = 'recent' then stake end) as recent_median_stake,
        median(case when bet_window = 'baseline' then stake end) as baseline_median_stake,
        sum(case when bet_window = 'recent' then is_live_bet else 0 end) as recent_live_bets,
        sum(case when bet_window = 'baseline' then is_live_bet else 0 end) as baseline_live_bets,
        sum(case when bet_window = 'recent' then is_niche_sport else 0 end) as recent_niche_bets,
        sum(case when bet_window = 'baseline' then is_niche_sport else 0 end) as baseline_niche_bets,
        sum(case when bet_window = 'recent' then is_longshot else 0 end) as recent_longshot_bets,
        sum(case when bet_window = 'baseline' then is_longshot else 0 end) as baseline_longshot_bets,
        sum(case when bet_window = 'recent' then is_late_night else 0 end) as recent_late_night_bets,
        sum(case when bet_window = 'baseline' then is_late_night else 0 end) as baseline_late_night_bets

    from bets
    group by player_id

)

select * from final
