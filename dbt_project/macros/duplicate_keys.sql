{#
    Rows of `model` whose key (`columns`) occurs more than once, with how often: the failing
    rows of a grain test. Found in two passes: first the repeated hashes of the key (64-bit on
    DuckDB, 32-bit on Spark: a grouping on integers, cheaper than on a wide key), then the
    rows of those hashes grouped by the key itself, so a hash collision never fails a test.
    The same rows as grouping every key at once.
#}
{% macro duplicate_keys(model, columns, where=none) %}
    {%- set key = columns | join(', ') -%}
    with repeated_hashes as (
        select hash({{ key }}) as key_hash
        from {{ model }}
        {% if where %}where {{ where }}{% endif %}
        group by key_hash
        having count(*) > 1
    )

    select
        {{ key }},
        count(*) as n_records
    from {{ model }}
    where
        hash({{ key }}) in (select key_hash from repeated_hashes)
        {% if where %}and {{ where }}{% endif %}
    group by {{ key }}
    having count(*) > 1
{% endmacro %}
