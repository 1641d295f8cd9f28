{#- Per player: counts, stake medians and market / time shares in the recent window and in
    the baseline window (the windows never overlap). One hash aggregate per (player, window),
    then one row per player. Active days come from int_players_trended, which aggregates
    per day anyway (a count(distinct day) here would cost a second ~5M-group aggregate). -#}

with

bets as (

    select * from {{ ref('int_bets_windowed') }}

),

per_window as (

    select
        player_id,
        bet_window,
        max(state) as state,
        max(placed_at) as last_bet_at,
        count(*) as bets,
        median(stake) as median_stake,
        sum(is_live_bet) as live_bets,
        sum(is_niche_sport) as niche_bets,
        sum(is_longshot) as longshot_bets,
        sum(is_late_night) as late_night_bets

    from bets
    group by player_id, bet_window

),

final as (

    select
        player_id,
        max(state) as state,
        max(last_bet_at) as last_bet_at,
        {%- for window in ['recent', 'baseline'] %}
        coalesce(max(case when bet_window = '{{ window }}' then bets end), 0) as {{ window }}_bets,
        max(case when bet_window = '{{ window }}' then median_stake end) as {{ window }}_median_stake,
        coalesce(max(case when bet_window = '{{ window }}' then live_bets end), 0) as {{ window }}_live_bets,
        coalesce(max(case when bet_window = '{{ window }}' then niche_bets end), 0) as {{ window }}_niche_bets,
        coalesce(max(case when bet_window = '{{ window }}' then longshot_bets end), 0) as {{ window }}_longshot_bets,
        coalesce(max(case when bet_window = '{{ window }}' then late_night_bets end), 0) as {{ window }}_late_night_bets
        {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from per_window
    group by player_id

)

select * from final
