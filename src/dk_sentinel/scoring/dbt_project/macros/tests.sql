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
