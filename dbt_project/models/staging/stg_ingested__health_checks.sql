select
    cast(record_key as string) as check_record_key,
    cast(facility_code as string) as facility_code,
    cast(check_date as date) as check_date
from {{ source('ingested', 'health_checks') }}
