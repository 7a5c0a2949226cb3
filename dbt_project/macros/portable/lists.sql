{# Lists (DuckDB) and arrays (Spark): the same values under other names. Each macro renders
   DuckDB's own form on DuckDB (its fast path, unchanged) and Spark's elsewhere. #}

{# The distinct non-null values of `column` in the group, sorted. Both forms drop nulls:
   list_distinct on DuckDB, collect_set on Spark (array_agg would keep them on DuckDB only). #}
{% macro sorted_distinct_list(column) -%}
    {{ return(adapter.dispatch('sorted_distinct_list', 'yiyu')(column)) }}
{%- endmacro %}

{% macro duckdb__sorted_distinct_list(column) -%}
    list_sort(list_distinct(list({{ column }})))
{%- endmacro %}

{% macro default__sorted_distinct_list(column) -%}
    array_sort(collect_set({{ column }}))
{%- endmacro %}


{# The elements of `list` for which `condition` (on `element`) holds. DuckDB takes only
   `lambda x:`, Spark only `x ->`. #}
{% macro filter_list(list, element, condition) -%}
    {{ return(adapter.dispatch('filter_list', 'yiyu')(list, element, condition)) }}
{%- endmacro %}

{% macro duckdb__filter_list(list, element, condition) -%}
    list_filter({{ list }}, lambda {{ element }}: {{ condition }})
{%- endmacro %}

{% macro default__filter_list(list, element, condition) -%}
    filter({{ list }}, {{ element }} -> {{ condition }})
{%- endmacro %}


{# The number of elements; null for a null list. Not Spark's size(), which gives -1 for a null
   list when ANSI mode is off (as dbt-spark sets it). #}
{% macro list_size(list) -%}
    {{ return(adapter.dispatch('list_size', 'yiyu')(list)) }}
{%- endmacro %}

{% macro duckdb__list_size(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro default__list_size(list) -%}
    array_size({{ list }})
{%- endmacro %}

