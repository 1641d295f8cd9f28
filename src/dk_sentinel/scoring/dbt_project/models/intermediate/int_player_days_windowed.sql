{#- Every local day a player bet in the scoring window (T - recent - baseline days, T], with
    the day's bets, amount staked, median stake and time spent (first to last bet), each
    measured against the player's own baseline *beyond what the whole book did that day*
    (scoring v3):

    - the player's baseline level: the median over baseline days of ln(bets) and of
      ln(median stake of the day) -- a median, so a few chase bets in a session read as
      chasing, not as a higher level of staking;
    - the day's population factor: the median, over players with at least three baseline
      days who bet that day, of their own deviation from their baseline level -- a holiday
      weekend, a big final or a weekend when everyone bets more moves this factor, not any
      one player's change; weighed by how many players it rests on, n / (n + k);
    - the day's personal deviation: ln(bets) and ln(mean stake) less the player's baseline
      level less the day's population factor.
    A day wholly inside the window is taken from int_player_days (kept between runs); a day
    cut by one of the window's ends (T - window, or T) from its bets inside the window (their
    bets lie within two days of that end). Read by int_players_windowed (levels, persistence,
    trends) and int_settlements_followed (what follows a losing day). -#}

{%- set as_of_ts = as_of() %}
{%- set recent_from = dbt.dateadd('day', -var('recent_window_days'), as_of_ts) %}
{%- set window_from = dbt.dateadd('day', -(var('recent_window_days') + var('baseline_window_days')), as_of_ts) %}

with

bets as (

    select player_id, bet_window, placed_at, local_day, stake
    from {{ ref('int_bets_windowed') }}

),

whole_days as (

    select
        player_id,
        local_day,
        bets,
        staked,
        median_stake,
        {{ dbt.datediff('first_placed_at', 'last_placed_at', 'second') }} / 60.0 as span_minutes,
        case when last_placed_at > {{ recent_from }} then 1 else 0 end as is_recent_day,
        case when first_placed_at <= {{ recent_from }} then 1 else 0 end as is_baseline_day

    from {{ ref('int_player_days') }}
    where first_placed_at > {{ window_from }} and last_placed_at <= {{ as_of_ts }}

),

cut_days as (

    select
        bets.player_id,
        bets.local_day,
        count(*) as bets,
        sum(bets.stake) as staked,
        median(bets.stake) as median_stake,
        {{ dbt.datediff('min(bets.placed_at)', 'max(bets.placed_at)', 'second') }} / 60.0
            as span_minutes,
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

days as (

    select
        player_id,
        local_day,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'local_day', 'day') }} as day_number,
        bets,
        staked,
        span_minutes,
        is_recent_day,
        is_baseline_day,
        ln(cast(bets as double)) as log_bets,
        ln(cast(median_stake as double)) as log_median_stake

    from (
        select * from whole_days
        union all
        select * from cut_days
    ) as held
    where median_stake > 0

),

-- the player's own level: medians over baseline days (robust to a one-off spike)
baselines as (

    select
        player_id,
        count(*) as baseline_days,
        median(log_bets) as baseline_log_bets,
        median(log_median_stake) as baseline_log_median_stake

    from days
    where is_baseline_day = 1
    group by player_id

),

-- what the whole book did each day, beyond each player's own level
population_days as (

    select
        days.local_day,
        count(*) as players_on_day,
        {{ evidence_weight('count(*)') }}
            * median(days.log_bets - baselines.baseline_log_bets) as day_log_bets_factor,
        {{ evidence_weight('count(*)') }}
            * median(days.log_median_stake - baselines.baseline_log_median_stake)
            as day_log_stake_factor

    from days
    inner join baselines on baselines.player_id = days.player_id
    where baselines.baseline_days >= 3
    group by days.local_day

),

final as (

    select
        days.player_id,
        days.local_day,
        days.day_number,
        days.bets,
        days.staked,
        days.span_minutes,
        days.is_recent_day,
        days.is_baseline_day,
        coalesce(baselines.baseline_days, 0) as baseline_days,
        coalesce(population_days.day_log_bets_factor, 0.0) as day_log_bets_factor,
        coalesce(population_days.day_log_stake_factor, 0.0) as day_log_stake_factor,
        -- the day's level with the book's move taken out (trends and levels read it)
        days.log_bets - coalesce(population_days.day_log_bets_factor, 0.0) as adjusted_log_bets,
        days.log_median_stake - coalesce(population_days.day_log_stake_factor, 0.0)
            as adjusted_log_median_stake,
        -- the day against the player's own baseline (null without a baseline day)
        days.log_bets - coalesce(population_days.day_log_bets_factor, 0.0)
            - baselines.baseline_log_bets as log_bets_deviation,
        days.log_median_stake - coalesce(population_days.day_log_stake_factor, 0.0)
            - baselines.baseline_log_median_stake as log_stake_deviation

    from days
    left join baselines on baselines.player_id = days.player_id
    left join population_days on population_days.local_day = days.local_day

)

select * from final
