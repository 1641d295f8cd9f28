with

source as (

    select * from {{ source('sentinel', 'assessments') }}

),

renamed as (

    select
        assessment_id,
        player_id,
        assessed_at,
        cast(risk_score as double) as risk_score

    from source

)

select * from renamed
