with

source as (

    select * from {{ source('ops', 'scoring_runs') }}

),

renamed as (

    select
        run_id,
        status,
        as_of,
        finished_at

    from source

)

select * from renamed
