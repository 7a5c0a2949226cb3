{# Fails unless the model has exactly one row (a settings row missing is an error too). #}
{% test exactly_one_row(model) %}
    select rows_found
    from (select count(*) as rows_found from {{ model }}) as counted
    where rows_found <> 1
{% endtest %}
