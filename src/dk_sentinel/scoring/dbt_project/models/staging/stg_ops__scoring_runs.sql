with

source as (

    select * from {{ source('ops', 'scoring_runs') }}

),

renamed as (

    select
        run_id,
        status,
        coalesce(kind, 'live') as kind,
        -- the one rule for the runs analysts see (PUBLISHED_RUNS in dk_sentinel.scoring):
        -- live runs that succeeded; replays of past as-ofs never become "latest"
        status = 'success' and coalesce(kind, 'live') = 'live' as is_published,
        as_of,
        finished_at

    from source

)

select * from renamed
