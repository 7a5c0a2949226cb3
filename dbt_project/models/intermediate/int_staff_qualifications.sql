-- When each staff member first holds a qualifying certificate (seed; a 健康证 is not one).
-- A certificate field may list several certificates; one with no date counts from hired_on.
-- The separators: 、 , ， ; ； / and white space (RE2's \s, spelled out as Java's differs).
{% set separators %}[、,，;；/\t\n\f\r ]+{% endset %}
with listed as (
    select
        staff_key,
        {{ split_to_rows('certificate', separators) }} as certificate,
        coalesce(certified_on, hired_on) as qualified_on
    from {{ ref('stg_ingested__staff') }}
    where certificate is not null
),

certificates as (
    select
        staff_key,
        trim(certificate) as certificate,
        qualified_on
    from listed
)

select
    certificates.staff_key,
    min(certificates.qualified_on) as qualified_from
from certificates
inner join {{ ref('qualifying_certificates') }} as qualifying
    on qualifying.certificate = certificates.certificate
group by certificates.staff_key
