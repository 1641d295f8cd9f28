{#- Per player, from one pass over the bets of the scoring window:
    - counts, stake medians and market / time shares in the recent window and in the baseline
      window (the windows never overlap);
    - active days in each window (a local day with bets on both sides of the window boundary
      counts in both);
    - the stake trajectory (Braverman & Shaffer 2012): the least-squares slope of log daily
      staked amount against the day over every active day of the scoring window, as growth
      per week (needs at least 8 active days);
    - level markers over the whole scoring window (the RG literature's intensity, frequency
      and variability of play): active days, bets per active day, total and mean stake, the
      spread of log stakes, net loss on settled bets, and the account's age (from the
      player's first bet held, at or before T) with the bets and stakes of the whole history
      held up to T;
    - the recent bets on sports the player never bet in the baseline window, each weighted by
      how far that sport's share of the whole book's bets held from the baseline window to
      the recent one (min(1, baseline share / recent share)): a sport whose season starts,
      which everyone takes up at once, weighs ~0; a sport the book bets as before weighs 1.
    The daily trajectory and the active days come from int_player_days (kept between runs),
    the rest from the bets of the window (int_bets_windowed, a view over the kept
    int_bets_localised, scanned once per aggregate: cheaper than materialising it). -#}

{%- set as_of_ts = as_of() %}
{%- set recent_from = dbt.dateadd('day', -var('recent_window_days'), as_of_ts) %}
{%- set window_from = dbt.dateadd('day', -(var('recent_window_days') + var('baseline_window_days')), as_of_ts) %}

with

bets as (

    select
        player_id, bet_window, state, placed_at, local_day, stake, sport, settled_net_loss,
        is_live_bet, is_niche_sport, is_longshot, is_late_night
    from {{ ref('int_bets_windowed') }}

),

first_bets as (

    -- the whole history held up to T (one light scan): tenure and lifetime volume
    select
        player_id,
        min(placed_at) as first_bet_at,
        count(*) as lifetime_bets,
        sum(stake) as lifetime_staked
    from {{ ref('int_bets_localised') }}
    where placed_at <= {{ as_of() }}
    group by player_id

),

levels as (

    select
        player_id,
        count(*) as window_bets,
        sum(stake) as window_staked,
        stddev_samp(ln(stake)) as window_log_stake_sd,
        coalesce(sum(settled_net_loss), 0.0) as window_net_loss

    from bets
    group by player_id

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

windows as (

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

),

-- Local days with a bet in the window, from int_player_days: a day wholly inside the window
-- as it is; a day cut by one of the window's ends (T - recent - baseline days, or T) from its
-- bets inside the window (their bets lie within two days of that end).
whole_days as (

    select
        player_id,
        local_day,
        staked,
        case when last_placed_at > {{ recent_from }} then 1 else 0 end as is_recent_day,
        case when first_placed_at <= {{ recent_from }} then 1 else 0 end as is_baseline_day

    from {{ ref('int_player_days') }}
    where first_placed_at > {{ window_from }} and last_placed_at <= {{ as_of_ts }}

),

cut_days as (

    select
        bets.player_id,
        bets.local_day,
        sum(bets.stake) as staked,
        max(case when bets.bet_window = 'recent' then 1 else 0 end) as is_recent_day,
        max(case when bets.bet_window = 'baseline' then 1 else 0 end) as is_baseline_day

    from bets
    inner join {{ ref('int_player_days') }} as days
        on days.player_id = bets.player_id and days.local_day = bets.local_day
    where (bets.placed_at <= {{ dbt.dateadd('day', 2, window_from) }}
           or bets.placed_at > {{ dbt.dateadd('day', -2, as_of_ts) }})
      and (days.first_placed_at <= {{ window_from }} or days.last_placed_at > {{ as_of_ts }})
    group by bets.player_id, bets.local_day

),

daily as (

    select
        player_id,
        local_day,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'local_day', 'day') }} as day_number,
        staked,
        is_recent_day,
        is_baseline_day

    from (
        select * from whole_days
        union all
        select * from cut_days
    ) as days

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

sport_seasons as (

    select
        sport,
        least(1.0, coalesce(
            {{ safe_div('sum(baseline_bets)', 'sum(sum(baseline_bets)) over ()') }}
            / nullif({{ safe_div('sum(recent_bets)', 'sum(sum(recent_bets)) over ()') }}, 0.0),
            1.0)) as personal_weight

    from sports
    group by sport

),

new_sports as (

    select
        sports.player_id,
        sum(case when sports.baseline_bets = 0 then sports.recent_bets else 0 end)
            as recent_bets_on_new_sports,
        sum(case when sports.baseline_bets = 0
            then sports.recent_bets * sport_seasons.personal_weight else 0.0 end)
            as recent_personal_new_sport_bets

    from sports
    inner join sport_seasons on sport_seasons.sport = sports.sport
    group by sports.player_id

),

final as (

    select
        windows.*,
        coalesce(trends.recent_active_days, 0) as recent_active_days,
        coalesce(trends.baseline_active_days, 0) as baseline_active_days,
        coalesce(trends.active_days, 0) as active_days,
        case when trends.active_days >= 8
            then 7 * trends.log_stake_slope_per_day end as weekly_log_stake_growth,
        case when trends.active_days >= 8
            then exp(7 * trends.log_stake_slope_per_day) - 1 end as weekly_stake_growth,
        coalesce(new_sports.recent_bets_on_new_sports, 0) as recent_bets_on_new_sports,
        coalesce(new_sports.recent_personal_new_sport_bets, 0.0) as recent_personal_new_sport_bets,
        coalesce(trends.active_days, 0) as window_active_days,
        {{ safe_div('levels.window_bets', 'trends.active_days') }} as window_bets_per_active_day,
        levels.window_staked,
        {{ safe_div('levels.window_staked', 'levels.window_bets') }} as window_mean_stake,
        coalesce(levels.window_log_stake_sd, 0.0) as window_log_stake_sd,
        levels.window_net_loss,
        {{ dbt.datediff('first_bets.first_bet_at', as_of(), 'day') }} as account_age_days,
        first_bets.lifetime_bets,
        first_bets.lifetime_staked

    from windows
    left join trends on trends.player_id = windows.player_id
    left join new_sports on new_sports.player_id = windows.player_id
    left join levels on levels.player_id = windows.player_id
    left join first_bets on first_bets.player_id = windows.player_id

)

select * from final
