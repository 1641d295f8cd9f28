with

source as (

    select * from {{ source('ops', 'scoring_runs') }}

),

renamed as (

    select
        run_id,
        status,
        coalesce(kind, 'live') as kind,
        -- the one rule for the runs analysts see: live runs that succeeded; replays of past
        -- as-ofs never become "latest" (rg_latest_run picks the latest of these)
        status = 'success' and coalesce(kind, 'live') = 'live' as is_published,
        started_at,
        finished_at,
        as_of,
        watermark,
        new_bets,
        players_scored,
        tests_passed,
        tests_failed,
        scoring_version,
        profile_version,
        error

    from source

)

select * from renamed
