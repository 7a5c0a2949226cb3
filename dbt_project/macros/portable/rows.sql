{# Structs, window functions, generators and joins whose syntax differs between DuckDB and
   Spark. Each macro renders DuckDB's own form on DuckDB (its fast path, unchanged) and Spark's
   (or standard SQL) elsewhere. #}

{# A struct of the named columns, its fields named as the columns (compared field by field, in
   this order, by max() and min()). #}
{% macro pack_struct(columns) -%}
    {{ return(adapter.dispatch('pack_struct', 'yiyu')(columns)) }}
{%- endmacro %}

{% macro duckdb__pack_struct(columns) -%}
    struct_pack({{ columns | join(', ') }})
{%- endmacro %}

{% macro default__pack_struct(columns) -%}
    named_struct({% for column in columns %}'{{ column }}', {{ column }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}


{% macro struct_field(struct, field) -%}
    {{ return(adapter.dispatch('struct_field', 'yiyu')(struct, field)) }}
{%- endmacro %}

{% macro duckdb__struct_field(struct, field) -%}
    struct_extract({{ struct }}, '{{ field }}')
{%- endmacro %}

{% macro default__struct_field(struct, field) -%}
    {{ struct }}.{{ field }}
{%- endmacro %}


{# last_value skipping nulls, to be followed by its OVER clause. #}
{% macro last_value_ignoring_nulls(expression) -%}
    {{ return(adapter.dispatch('last_value_ignoring_nulls', 'yiyu')(expression)) }}
{%- endmacro %}

{% macro duckdb__last_value_ignoring_nulls(expression) -%}
    last_value({{ expression }} ignore nulls)
{%- endmacro %}

{% macro default__last_value_ignoring_nulls(expression) -%}
    last_value({{ expression }}) ignore nulls
{%- endmacro %}


{# `left join` of each row of `left_alias` (a row of `left_relation`) with the row of
   `right_relation` of the same `key` whose `right_time` is the latest at or before the left
   row's `left_time`; `right_time` is unique per key. DuckDB: its ASOF join (no fan-out). Else:
   each distinct (key, left_time) ranked against its candidates; the matched right row carries
   `asof_time` besides its own columns. #}
{% macro asof_left_join(left_relation, left_alias, right_relation, right_alias, key, left_time, right_time) -%}
    {{ return(adapter.dispatch('asof_left_join', 'yiyu')(left_relation, left_alias, right_relation, right_alias, key, left_time, right_time)) }}
{%- endmacro %}

{% macro duckdb__asof_left_join(left_relation, left_alias, right_relation, right_alias, key, left_time, right_time) -%}
    asof left join {{ right_relation }} as {{ right_alias }}
        on {{ left_alias }}.{{ key }} = {{ right_alias }}.{{ key }} and {{ left_alias }}.{{ left_time }} >= {{ right_alias }}.{{ right_time }}
{%- endmacro %}

{% macro default__asof_left_join(left_relation, left_alias, right_relation, right_alias, key, left_time, right_time) -%}
    left join (
        select *
        from (
            select
                asof_right.*,
                asof_left.{{ left_time }} as asof_time,
                row_number() over (
                    partition by asof_left.{{ key }}, asof_left.{{ left_time }}
                    order by asof_right.{{ right_time }} desc
                ) as asof_rank
            from (select distinct {{ key }}, {{ left_time }} from {{ left_relation }}) as asof_left
            inner join {{ right_relation }} as asof_right
                on asof_left.{{ key }} = asof_right.{{ key }} and asof_left.{{ left_time }} >= asof_right.{{ right_time }}
        ) as asof_candidates
        where asof_rank = 1
    ) as {{ right_alias }}
        on {{ left_alias }}.{{ key }} = {{ right_alias }}.{{ key }} and {{ left_alias }}.{{ left_time }} = {{ right_alias }}.asof_time
{%- endmacro %}


{# One row per date from `start` to `stop` in steps of `months`, as a select-list item (a
   generator: nothing may wrap it). DuckDB gives timestamps, Spark dates: cast the column. #}
{% macro month_series(start, stop, months) -%}
    {{ return(adapter.dispatch('month_series', 'yiyu')(start, stop, months)) }}
{%- endmacro %}

{% macro duckdb__month_series(start, stop, months) -%}
    unnest(generate_series({{ start }}, {{ stop }}, interval {{ months }} month))
{%- endmacro %}

{% macro default__month_series(start, stop, months) -%}
    explode(sequence({{ start }}, {{ stop }}, interval {{ months }} month))
{%- endmacro %}


{# One row per piece of `column` split at the regular expression `pattern` (a Python string,
   rendered as a literal of the engine), as a select-list item (a generator: nothing may wrap
   it). Java's and RE2's `\s` differ: spell the characters out. #}
{% macro split_to_rows(column, pattern) -%}
    {{ return(adapter.dispatch('split_to_rows', 'yiyu')(column, pattern)) }}
{%- endmacro %}

{% macro duckdb__split_to_rows(column, pattern) -%}
    unnest(regexp_split_to_array({{ column }}, {{ quoted_string(pattern) }}))
{%- endmacro %}

{% macro default__split_to_rows(column, pattern) -%}
    explode(split({{ column }}, {{ quoted_string(pattern) }}))
{%- endmacro %}


{# The pieces of `column` split at `separator` (one character, not special in a regular
   expression) with their positions, as the select-list items `value_alias` and
   `position_alias` (ascending in the string's order; DuckDB counts from 1, Spark from 0). #}
{% macro split_with_position(column, separator, value_alias, position_alias) -%}
    {{ return(adapter.dispatch('split_with_position', 'yiyu')(column, separator, value_alias, position_alias)) }}
{%- endmacro %}

{% macro duckdb__split_with_position(column, separator, value_alias, position_alias) -%}
    unnest(string_split({{ column }}, '{{ separator }}')) as {{ value_alias }},
    generate_subscripts(string_split({{ column }}, '{{ separator }}'), 1) as {{ position_alias }}
{%- endmacro %}

{% macro default__split_with_position(column, separator, value_alias, position_alias) -%}
    posexplode(split({{ column }}, '{{ separator }}')) as ({{ position_alias }}, {{ value_alias }})
{%- endmacro %}


{# The non-null values of `expression` joined by `separator` in the order of `order_by`. #}
{% macro ordered_string_agg(expression, separator, order_by) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'yiyu')(expression, separator, order_by)) }}
{%- endmacro %}

{% macro duckdb__ordered_string_agg(expression, separator, order_by) -%}
    string_agg({{ expression }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro default__ordered_string_agg(expression, separator, order_by) -%}
    string_agg({{ expression }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}


{# A Python string as an SQL string literal. Spark reads backslashes in a literal as escapes
   (`'\s'` is `s`): they are doubled there. #}
{% macro quoted_string(value) -%}
    {{ return(adapter.dispatch('quoted_string', 'yiyu')(value)) }}
{%- endmacro %}

{% macro default__quoted_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__quoted_string(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
