select
    cast(facility_code as varchar) as facility_code,
    cast(facility_type as varchar) as facility_type,
    cast(street_code as varchar) as street_code,
    cast(three_in_one_since as date) as three_in_one_since
from {{ source('ingested', 'health_facilities') }}
