-- The keyed hashes a follow-up handle can come from, per child-level record: a birth
-- certificate and an own validated ID (any source), an archive number with its facility and
-- date (archives only). An archive number on a check points at an archive: not the check's own.
{% set child_sources = ['births', 'health_archives', 'enrollments', 'health_checks'] %}
{% for source_name in child_sources %}
    select
        '{{ source_name }}' as source,
        cast(record_key as string) as record_key,
        cast(id_key as string) as id_key,
        cast(birth_cert_key as string) as birth_cert_key,
        {%- if source_name == 'health_archives' %}
            cast(archive_key as string) as archive_key,
            cast(facility_code as string) as facility_code,
            cast(archive_date as date) as archive_date
        {%- else %}
            cast(null as string) as archive_key,
            cast(null as string) as facility_code,
            cast(null as date) as archive_date
        {%- endif %}
    from {{ source('ingested', source_name) }}
    {%- if not loop.last %}
        union all
    {%- endif %}
{% endfor %}
