{#- Every local day a player bet in the scoring window (T - recent - baseline days, T], with
    the day's bets, typical stake (the geometric mean) and time spent (first to last bet),
    each measured against the player's own baseline *beyond what the whole book did that
    day* (scoring v3):

    - the player's baseline level: the median over baseline days of ln(bets) and of the
      day's mean ln(stake);
    - the day's population factor: over players with at least three baseline days who bet
      that day, the median of their stake deviations and the mean of their bets deviations
      (each clipped to ln 4: bets per day are small counts, whose median moves in jumps) --
      a holiday weekend, a big final or a weekend when everyone bets more moves this factor,
      not any one player's change; weighed by how many players it rests on, n / (n + k);
    - the day's cohort factor (scoring v4): the same move among the players of the player's
      cohort (the sport of most of their baseline bets) beyond the book's, centred on the
      cohort's typical difference on baseline days and weighed n / (n + k) by the cohort's
      players that day -- a tournament that lifts one sport's fans lifts their cohort;
    - the day's personal deviation: ln(bets) and mean ln(stake) less the player's baseline
      level less the day's population and cohort factors.
    A day wholly inside the window is taken from int_player_days (kept between runs); a day
    cut by one of the window's ends (T - window, or T) from its bets inside the window (their
    bets lie within two days of that end). Read by int_players_windowed (levels, persistence,
    trends) and int_settlements_followed (what follows a losing day).

    On recent days the stake level is read from the *planned* bets (those not placed within
    chase_window_minutes after one of the player's settlements); each day carries its result
    (net loss of its settled bets, over the chase window), whether it follows a losing day, and
    whether the whole book moved that day (a shock day, |factor| > shock_day_log_factor). -#}

{%- set as_of_ts = as_of() %}
{%- set recent_from = dbt.dateadd('day', -var('recent_window_days'), as_of_ts) %}
{%- set window_from = dbt.dateadd('day', -(var('recent_window_days') + var('baseline_window_days')), as_of_ts) %}
{#- days whose result is read: the chase window, and at least the recent window and the
    three days before it (a recent day follows a losing day within three days) -#}
{%- set results_from = dbt.dateadd('day', -([var('chase_lookback_days'), var('recent_window_days') + 3] | max), as_of_ts) %}

with

bets as (

    select player_id, bet_window, placed_at, local_day, stake, settled_at, settled_outcome,
        settled_net_loss
    from {{ ref('int_bets_windowed') }}

),

-- The recent bets, each marked reactive when placed within chase_window_minutes after one of
-- the player's own settlements (as of T; a settlement at the same instant counts): a reaction
-- to a win or a loss is read by loss_chase, as a contrast; the level of staking is read from
-- the other, planned bets, so bigger bets after wins do not read as a higher level.
recent_events as (

    select player_id, placed_at as event_at, 0 as is_settlement, local_day, stake
    from bets
    where bet_window = 'recent'
    union all
    select player_id, settled_at as event_at, 1 as is_settlement, null as local_day,
        null as stake
    from bets
    where settled_at > {{ dbt.dateadd('minute', -var('chase_window_minutes'), recent_from) }}

),

recent_marked as (

    select
        player_id,
        local_day,
        stake,
        event_at,
        is_settlement,
        max(case when is_settlement = 1 then event_at end) over (
            partition by player_id order by event_at, is_settlement desc
            rows between unbounded preceding and current row) as last_settled_at

    from recent_events

),

planned_days as (

    select
        player_id,
        local_day,
        avg(case when last_settled_at is null
                   or last_settled_at < {{ dbt.dateadd('minute', -var('chase_window_minutes'), 'event_at') }}
              then ln(stake) end) as planned_log_stake

    from recent_marked
    where is_settlement = 0
    group by player_id, local_day

),

-- each local day's result: the net of its bets placed that day and settled by T; and
-- whether it follows a losing day (the player's previous day with a result, within three
-- days, lost), over these days alone (a few per player) rather than every day held
day_results as (

    select
        player_id,
        local_day,
        day_net_loss,
        case when lag(day_net_loss) over (partition by player_id order by local_day) > 0
                  and lag(local_day) over (partition by player_id order by local_day)
                      >= cast({{ dbt.dateadd('day', -3, 'local_day') }} as date)
            then 1 else 0 end as follows_losing_day

    from (
        select player_id, local_day, sum(settled_net_loss) as day_net_loss
        from bets
        where settled_outcome is not null and placed_at > {{ results_from }}
        group by player_id, local_day
    ) as results

),

-- a day's planned stake and result together (few days per player), so the days are joined to
-- them once: a second join of every day held kept both hash tables in memory at once (at
-- 10M bets it spilled to disk, ~1 s)
day_extras as (

    select
        coalesce(planned_days.player_id, day_results.player_id) as player_id,
        coalesce(planned_days.local_day, day_results.local_day) as local_day,
        planned_days.planned_log_stake,
        day_results.day_net_loss,
        day_results.follows_losing_day

    from planned_days
    full outer join day_results
        on day_results.player_id = planned_days.player_id
       and day_results.local_day = planned_days.local_day

),

whole_days as (

    select
        player_id,
        local_day,
        bets,
        log_stake_sum,
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
        sum(ln(bets.stake)) as log_stake_sum,
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
        span_minutes,
        is_recent_day,
        is_baseline_day,
        ln(cast(bets as double)) as log_bets,
        log_stake_sum / bets as log_mean_stake

    from (
        select * from whole_days
        union all
        select * from cut_days
    ) as held

),

-- the player's own level: medians over baseline days (robust to a one-off spike)
baselines as (

    select
        player_id,
        count(*) as baseline_days,
        median(log_bets) as baseline_log_bets,
        median(log_mean_stake) as baseline_log_mean_stake

    from days
    where is_baseline_day = 1
    group by player_id

),

-- the player's cohort (scoring v4): the sport of most of their baseline bets (ties: the
-- first by name), so a college-basketball fan in March is compared with the other fans
cohorts as (

    select player_id, sport as cohort
    from (
        select
            player_id,
            sport,
            row_number() over (partition by player_id order by count(*) desc, sport) as rank_in_player
        from {{ ref('int_bets_windowed') }}
        where bet_window = 'baseline'
        group by player_id, sport
    ) as counted
    where rank_in_player = 1

),

-- each day's deviations of the players with a baseline, with their cohort
deviations as (

    select
        days.local_day,
        coalesce(cohorts.cohort, '') as cohort,
        -- bets per day are small counts (1, 2, 3 ...), whose median moves in jumps (a book
        -- betting 30 % more reads as +50 % or as nothing): the mean deviation, each player's
        -- clipped to ln 4 either way so a few extreme players do not carry it
        least(greatest(days.log_bets - baselines.baseline_log_bets, -ln(4.0)), ln(4.0))
            as log_bets_move,
        days.log_mean_stake - baselines.baseline_log_mean_stake as log_stake_move

    from days
    inner join baselines on baselines.player_id = days.player_id
    left join cohorts on cohorts.player_id = days.player_id
    where baselines.baseline_days >= 3

),

-- what the whole book did each day, beyond each player's own level
raw_population_days as (

    select
        local_day,
        count(*) as players_on_day,
        avg(log_bets_move) as day_log_bets_move,
        median(log_stake_move) as day_log_stake_move

    from deviations
    group by local_day

),

-- the same per cohort and day
raw_cohort_days as (

    select
        local_day,
        cohort,
        count(*) as players_on_day,
        avg(log_bets_move) as day_log_bets_move,
        median(log_stake_move) as day_log_stake_move

    from deviations
    group by local_day, cohort

),

-- a cohort's own move beyond the book's, centred on the cohort's typical baseline-day
-- difference and weighed by how many of its players bet that day, n / (n + k): a cohort
-- of a few players reads as the book
cohort_days as (

    select
        raw_cohort_days.local_day,
        raw_cohort_days.cohort,
        {{ evidence_weight('raw_cohort_days.players_on_day') }}
            * ((raw_cohort_days.day_log_bets_move - raw_population_days.day_log_bets_move)
               - typical.bets_difference) as cohort_log_bets_factor,
        {{ evidence_weight('raw_cohort_days.players_on_day') }}
            * ((raw_cohort_days.day_log_stake_move - raw_population_days.day_log_stake_move)
               - typical.stake_difference) as cohort_log_stake_factor

    from raw_cohort_days
    inner join raw_population_days on raw_population_days.local_day = raw_cohort_days.local_day
    inner join (
        select
            c.cohort,
            avg(c.day_log_bets_move - p.day_log_bets_move) as bets_difference,
            avg(c.day_log_stake_move - p.day_log_stake_move) as stake_difference
        from raw_cohort_days as c
        inner join raw_population_days as p on p.local_day = c.local_day
        where c.local_day <= cast({{ recent_from }} as date)
        group by c.cohort
    ) as typical on typical.cohort = raw_cohort_days.cohort

),

-- the moves centred on the baseline days' typical move (a mean of deviations from a median
-- is not 0 on an ordinary day), and weighed by how many players they rest on
population_days as (

    select
        raw_population_days.local_day,
        raw_population_days.players_on_day,
        {{ evidence_weight('raw_population_days.players_on_day') }}
            * (raw_population_days.day_log_bets_move - typical.bets_move) as day_log_bets_factor,
        {{ evidence_weight('raw_population_days.players_on_day') }}
            * (raw_population_days.day_log_stake_move - typical.stake_move) as day_log_stake_factor

    from raw_population_days
    cross join (
        select
            coalesce(avg(day_log_bets_move), 0.0) as bets_move,
            coalesce(avg(day_log_stake_move), 0.0) as stake_move
        from raw_population_days
        where local_day <= cast({{ recent_from }} as date)
    ) as typical

),

-- shock days in the recent window (the share of days active is read on the others)
recent_shocks as (

    select count(*) as recent_shock_days
    from population_days
    where local_day > cast({{ recent_from }} as date)
      and (abs(day_log_bets_factor) > {{ var('shock_day_log_factor') }}
           or abs(day_log_stake_factor) > {{ var('shock_day_log_factor') }})

),

final as (

    select
        days.player_id,
        days.local_day,
        days.day_number,
        days.span_minutes,
        days.is_recent_day,
        days.is_baseline_day,
        -- a day when the whole book moved (a holiday, a final): personal levels, trends and
        -- reactions are read on the other days, so a one-off shared spike is not persistence
        case when abs(coalesce(population_days.day_log_bets_factor, 0.0)) > {{ var('shock_day_log_factor') }}
               or abs(coalesce(population_days.day_log_stake_factor, 0.0)) > {{ var('shock_day_log_factor') }}
            then 1 else 0 end as is_shock_day,
        -- the day against the player's own baseline, beyond the move that day of the book
        -- and of the player's cohort (null without a baseline day)
        days.log_bets - coalesce(population_days.day_log_bets_factor, 0.0)
            - coalesce(cohort_days.cohort_log_bets_factor, 0.0)
            - baselines.baseline_log_bets as log_bets_deviation,
        days.log_mean_stake - coalesce(population_days.day_log_stake_factor, 0.0)
            - coalesce(cohort_days.cohort_log_stake_factor, 0.0)
            - baselines.baseline_log_mean_stake as log_stake_deviation,
        -- the level of staking, with the book's and the cohort's move taken out (the trend
        -- reads it): on a recent day from its planned bets only (null when every bet that day
        -- followed a settlement), before it from every bet
        case when days.is_recent_day = 1 then day_extras.planned_log_stake
             else days.log_mean_stake end
            - coalesce(population_days.day_log_stake_factor, 0.0)
            - coalesce(cohort_days.cohort_log_stake_factor, 0.0) as adjusted_log_stake,
        case when days.is_recent_day = 1 then day_extras.planned_log_stake
             else days.log_mean_stake end
            - coalesce(population_days.day_log_stake_factor, 0.0)
            - coalesce(cohort_days.cohort_log_stake_factor, 0.0)
            - baselines.baseline_log_mean_stake as planned_log_stake_deviation,
        day_extras.day_net_loss,
        coalesce(day_extras.follows_losing_day, 0) as follows_losing_day,
        recent_shocks.recent_shock_days

    from days
    cross join recent_shocks
    left join baselines on baselines.player_id = days.player_id
    left join population_days on population_days.local_day = days.local_day
    left join cohorts on cohorts.player_id = days.player_id
    left join cohort_days
        on cohort_days.local_day = days.local_day
       and cohort_days.cohort = coalesce(cohorts.cohort, '')
    left join day_extras
        on day_extras.player_id = days.player_id and day_extras.local_day = days.local_day

)

select * from final
