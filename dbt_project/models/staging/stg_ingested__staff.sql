select
    cast(staff_key as string) as staff_key,
    cast(institution_code as string) as institution_code,
    cast(hired_on as date) as hired_on,
    cast(left_on as date) as left_on,
    cast(certificate as string) as certificate,
    cast(certified_on as date) as certified_on
from {{ source('ingested', 'staff') }}
