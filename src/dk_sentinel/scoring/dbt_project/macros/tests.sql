{#- Generic tests vendored here (no packages.yml: no network at run time). -#}

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

{#- Tests of the score history check only the rows of the run being built: `where:
    __this_run__` becomes this_run_filter() when the test runs (dbt's documented way to
    template `where` with a macro), so a test's cost does not grow with the history. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__this_run__' in where -%}
            {%- set where = where | replace('__this_run__', this_run_filter()) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
