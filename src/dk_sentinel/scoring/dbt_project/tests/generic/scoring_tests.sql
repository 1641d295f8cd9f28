{#- Generic data tests of the scoring models (vendored: no packages.yml, no network at run time). -#}

{% test value_between(model, column_name, min_value, max_value) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} is not null
  and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}

{% test unique_combination(model, combination) %}
select {{ combination | join(', ') }}, count(*) as n from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}

{% test weights_sum_to_one(model) %}
{#- The weights in use must sum to 1 (the CLI validates this too; this guards direct dbt runs). -#}
select 1 as failed from {{ model }}
where abs({{ var('weight_loss_chase') }} + {{ var('weight_bet_escalation') }}
        + {{ var('weight_market_drift') }} + {{ var('weight_temporal_risk') }}
        + {{ var('weight_gamalyze') }} - 1.0) > 0.000001
limit 1
{% endtest %}
