select
    cast(facility_code as string) as facility_code,
    cast(facility_type as string) as facility_type,
    cast(street_code as string) as street_code,
    cast(three_in_one_since as date) as three_in_one_since
from {{ source('ingested', 'health_facilities') }}
