{# A row grain spanning several columns: no two rows share the same combination. #}
{% test unique_combination(model, columns) %}
    {{ duplicate_keys(model, columns) }}
{% endtest %}
