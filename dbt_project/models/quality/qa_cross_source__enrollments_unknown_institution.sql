-- Enrollments whose institution_code the institutions register does not hold.
-- `share` is the column the expectations name (noqa: RF04).
with registered as (
    select distinct institution_code
    from {{ ref('stg_ingested__institutions') }}
)

select
    count(*) as enrollments,
    count(*) filter (where registered.institution_code is null) as unknown_institution,
    cast(count(*) filter (where registered.institution_code is null) as double)
    / nullif(count(*), 0) as share  -- noqa: RF04
from {{ ref('stg_ingested__enrollments') }} as enrollments
left join registered on enrollments.institution_code = registered.institution_code
