with

source as (

    select * from {{ source('sentinel', 'bets') }}

),

renamed as (

    select
        bet_id,
        player_id,
        right(player_id, 2) as state,
        placed_at,
        settled_at,
        sport,
        coalesce(market, 'other') as market,
        is_live,
        cast(odds_decimal as double) as odds_decimal,
        cast(stake as double) as stake,
        cast(payout as double) as payout,
        status,
        load_id,
        loaded_at

    from source

)

select * from renamed
