-- Each child's records per child-level source, with what the linkage counts read of the child:
-- how many sources it has records in, whether it has an archive, whether its records disagree
-- on birth date or sex. A view: each reader scans the children once.
{{ config(materialized='view') }}
{% set sources = ['births', 'health_archives', 'enrollments', 'health_checks'] %}
with children as (
    select
        child_id,
        has_archive,
        birth_date_conflict or sex_conflict as has_conflict,
        {%- for source in sources %}
            {{ source }}_records,
        {%- endfor %}
        0
        {%- for source in sources %}
            + cast(coalesce({{ source }}_records, 0) > 0 as integer)
        {%- endfor %} as n_sources
    from {{ ref('stg_identity__children') }}
)

{% for source in sources %}
    select
        child_id,
        '{{ source }}' as source,
        {{ source }}_records as records,
        n_sources,
        has_archive,
        has_conflict
    from children
    where {{ source }}_records > 0
    {%- if not loop.last %}
        union all
    {%- endif %}
{% endfor %}
