select
    cast(child_key as string) as child_key,
    cast(child_id as integer) as child_id,
    cast(birth_date as date) as birth_date,
    cast(sex as string) as sex,
    cast(birth_cert_key as string) as birth_cert_key,
    cast(id_key as string) as id_key,
    cast(birth_community_code as string) as birth_community_code,
    cast(has_archive as boolean) as has_archive,
    cast(birth_date_conflict as boolean) as birth_date_conflict,
    cast(sex_conflict as boolean) as sex_conflict,
    cast(births_records as bigint) as births_records,
    cast(health_archives_records as bigint) as health_archives_records,
    cast(enrollments_records as bigint) as enrollments_records,
    cast(health_checks_records as bigint) as health_checks_records
from {{ source('identity', 'children') }}
