{# Schemas are named exactly as configured (`staging`, `intermediate`, `marts`, `reference`):
   evaluators query `marts.*`, so no target-schema prefix. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
