{# What the project needs on Spark only (docs/scale-out.md). #}

{# Every source of the project as an external Parquet table over `root`/<schema>/<table>/ (the
   working database's export, pipelines/marts/spark.py), replacing what the metastore held:
   `dbt run-operation register_parquet_sources --args '{root: ...}' --target spark`. #}
{% macro register_parquet_sources(root) %}
    {% for source in graph.sources.values() | sort(attribute='unique_id') %}
        {% do run_query('create database if not exists ' ~ source.schema) %}
        {% do run_query('drop table if exists ' ~ source.schema ~ '.' ~ source.identifier) %}
        {% do run_query(
            'create table ' ~ source.schema ~ '.' ~ source.identifier ~ ' using parquet location '
            ~ quoted_string(root ~ '/' ~ source.schema ~ '/' ~ source.identifier)
        ) %}
    {% endfor %}
    {{ log('registered ' ~ graph.sources | length ~ ' Parquet sources under ' ~ root, info=true) }}
{% endmacro %}


{# Seed rows as literals. dbt-spark's own version binds each value as '<value>' through the
   session: an empty cell would load as the string 'None' and a backslash would be read as an
   escape. Found first by the `dispatch` search order of dbt_project.yml. #}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set column_override = model['config'].get('column_types', {}) %}
    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(get_batch_size()) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    {%- set column_type = column_override.get(
                        agate_table.column_names[loop.index0], adapter.convert_type(agate_table, loop.index0)
                    ) -%}
                    cast({{ seed_literal(value) }} as {{ column_type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% if loop.first %}{% do statements.append(sql) %}{% endif %}
    {% endfor %}
    {{ return(statements[0]) }}
{% endmacro %}

{% macro seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ value | string | lower }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        {{ quoted_string(value | string) }}
    {%- endif -%}
{%- endmacro %}
