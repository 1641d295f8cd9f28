{#- Per player, from one pass over the bets of the scoring window:
    - counts, stake medians and market / time shares in the recent window and in the baseline
      window (the windows never overlap);
    - active days in each window (a local day with bets on both sides of the window boundary
      counts in both);
    - from int_player_days_windowed (each day against the player's baseline beyond the
      book's move that day): the recent medians of the daily deviations of bets and median
      stake, the recent elevated days, time spent per day, and the stake trajectory
      (Braverman & Shaffer 2012): the least-squares slope of the day-adjusted mean log stake
      against the day over every active day of the window, as growth per week (needs at
      least 8 active days);
    - level markers over the whole scoring window (the RG literature's intensity, frequency
      and variability of play): active days, bets per active day, total and mean stake, the
      spread of log stakes, net loss on settled bets, and the account's age (from the
      player's first bet held, at or before T) with the bets and stakes of the whole history
      held up to T;
    - the recent bets on sports the player never bet in the baseline window, each weighted by
      how far that sport's share of the whole book's bets held from the baseline window to
      the recent one (min(1, baseline share / recent share)): a sport whose season starts,
      which everyone takes up at once, weighs ~0; a sport the book bets as before weighs 1.
    The daily figures come from int_player_days_windowed, the rest from the bets of the
    window (int_bets_windowed, a view over the kept int_bets_localised, scanned once per
    aggregate: cheaper than materialising it). -#}

{%- set as_of_ts = as_of() %}

with

bets as (

    select
        player_id, bet_window, state, placed_at, local_day, stake, sport, settled_net_loss,
        is_live_bet, is_niche_sport, is_longshot, is_late_night
    from {{ ref('int_bets_windowed') }}

),

first_bets as (

    -- the whole history held up to T: tenure and lifetime volume, summed from the
    -- per-player-day summary kept between runs (int_player_days, a third of the bets' rows);
    -- only a day with bets on both sides of T is read bet by bet (its bets placed at most 25
    -- hours before T: rare at the present, one day a player in a replay)
    select
        player_id,
        min(first_at) as first_bet_at,
        sum(bets) as lifetime_bets,
        sum(staked) as lifetime_staked
    from (
        select player_id, first_placed_at as first_at, bets, staked
        from {{ ref('int_player_days') }}
        where last_placed_at <= {{ as_of_ts }}
        union all
        select held.player_id, held.placed_at, 1, held.stake
        from {{ ref('int_bets_localised') }} as held
        inner join {{ ref('int_player_days') }} as days
            on days.player_id = held.player_id and days.local_day = held.local_day
        where held.placed_at <= {{ as_of_ts }}
          and held.placed_at > {{ dbt.dateadd('day', -2, as_of_ts) }}
          and days.first_placed_at <= {{ as_of_ts }} and days.last_placed_at > {{ as_of_ts }}
    ) as history
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

-- Per player over their active days (int_player_days_windowed: each day against the
-- player's own baseline level beyond the book's move that day): active days in each window,
-- the recent medians of the daily deviations (a median over days, so three or four days of a
-- shared spike do not make a level), how many recent days were elevated, the time spent per
-- day, and the trend of the day-adjusted mean stake over the whole window.
trends as (

    select
        player_id,
        count(*) as active_days,
        sum(is_recent_day) as recent_active_days,
        sum(is_baseline_day) as baseline_active_days,
        -- the trend leaves out the days when the whole book moved
        {%- for stat in ['slope', 'count', 'sxx', 'syy', 'sxy'] %}
        regr_{{ stat }}(case when coalesce(is_shock_day, 0) = 0 then adjusted_log_stake end,
                   case when coalesce(is_shock_day, 0) = 0 then day_number end)
            as {{ 'log_stake_slope_per_day' if stat == 'slope' else 'trend_' ~ stat }},
        {%- endfor %}
        max(day_number) - min(day_number) as active_span_days,
        -- the stake level on calm recent days (not a shock day, not the day after a losing
        -- day), the bets per day on ordinary ones (not a shock day)
        count(case when is_recent_day = 1 and coalesce(is_shock_day, 0) = 0
                    and coalesce(follows_losing_day, 0) = 0 then planned_log_stake_deviation end)
            as recent_calm_days,
        count(case when is_recent_day = 1 then planned_log_stake_deviation end)
            as recent_planned_days,
        median(case when is_recent_day = 1 and coalesce(is_shock_day, 0) = 0
                then log_bets_deviation end) as ordinary_log_bets_deviation,
        median(case when is_recent_day = 1 and coalesce(is_shock_day, 0) = 0
                     and coalesce(follows_losing_day, 0) = 0
                then planned_log_stake_deviation end) as calm_log_stake_deviation,
        median(case when is_recent_day = 1 then log_bets_deviation end)
            as all_log_bets_deviation,
        median(case when is_recent_day = 1 then planned_log_stake_deviation end)
            as all_log_stake_deviation,
        sum(case when is_recent_day = 1 and coalesce(is_shock_day, 0) = 0 then 1 else 0 end)
            as recent_ordinary_active_days,
        max(coalesce(recent_shock_days, 0)) as recent_shock_days,
        sum(case when is_recent_day = 1 and coalesce(is_shock_day, 0) = 0
                  and (log_bets_deviation > {{ var('elevated_day_log_ratio') }}
                       or planned_log_stake_deviation > {{ var('elevated_day_log_ratio') }})
            then 1 else 0 end) as recent_elevated_days,
        median(case when is_recent_day = 1 then span_minutes end) as recent_median_day_minutes,
        median(case when is_baseline_day = 1 then span_minutes end) as baseline_median_day_minutes

    from {{ ref('int_player_days_windowed') }}
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
        trends.active_span_days,
        -- the standard error of the fitted change over the span (the residual spread of the
        -- daily levels around the line): the trend is weighed by its own precision
        case when trends.trend_count > 2 and trends.trend_sxx > 0 then
            sqrt(greatest(trends.trend_syy - trends.trend_sxy * trends.trend_sxy / trends.trend_sxx, 0.0)
                 / (trends.trend_count - 2) / trends.trend_sxx) * trends.active_span_days
        end as stake_trend_standard_error,
        -- the recent level: over calm days when there are any, else over every recent day
        case when trends.recent_calm_days > 0 then trends.recent_calm_days
             else coalesce(trends.recent_planned_days, 0) end as recent_level_days,
        case when trends.recent_ordinary_active_days > 0 then trends.ordinary_log_bets_deviation
             else trends.all_log_bets_deviation end as recent_log_bets_deviation,
        case when trends.recent_calm_days > 0 then trends.calm_log_stake_deviation
             else trends.all_log_stake_deviation end as recent_log_stake_deviation,
        coalesce(trends.recent_ordinary_active_days, 0) as recent_ordinary_active_days,
        coalesce(trends.recent_shock_days, 0) as recent_shock_days,
        coalesce(trends.recent_elevated_days, 0) as recent_elevated_days,
        trends.recent_median_day_minutes,
        trends.baseline_median_day_minutes,
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
