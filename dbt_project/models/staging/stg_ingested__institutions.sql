select
    cast(institution_code as string) as institution_code,
    cast(institution_type as string) as institution_type,
    cast(street_code as string) as street_code,
    cast(community_code as string) as community_code,
    cast(slots as integer) as slots,
    cast(is_affordable as boolean) as is_affordable,
    cast(affordable_since as date) as affordable_since,
    cast(filed_on as date) as filed_on,
    cast(closed_on as date) as closed_on,
    cast(provincial_standard_on as date) as provincial_standard_on
from {{ source('ingested', 'institutions') }}
