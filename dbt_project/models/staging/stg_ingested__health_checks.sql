select
    cast(record_key as varchar) as check_record_key,
    cast(facility_code as varchar) as facility_code,
    cast(check_date as date) as check_date
from {{ source('ingested', 'health_checks') }}
