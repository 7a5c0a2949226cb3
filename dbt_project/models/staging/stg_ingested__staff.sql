select
    cast(staff_key as varchar) as staff_key,
    cast(institution_code as varchar) as institution_code,
    cast(hired_on as date) as hired_on,
    cast(left_on as date) as left_on,
    cast(certificate as varchar) as certificate,
    cast(certified_on as date) as certified_on
from {{ source('ingested', 'staff') }}
