-- Everyone a worklist can go to, with the name it is addressed by: the health facilities
-- (with their type and street) and the childcare institutions.
select
    'health_facility' as recipient_type,
    cast(facility_code as string) as recipient_code,
    cast(facility_name as string) as recipient_name,
    cast(facility_type as string) as facility_type,
    cast(street_code as string) as street_code
from {{ source('ingested', 'health_facilities') }}
union all
select
    'institution' as recipient_type,
    cast(institution_code as string) as recipient_code,
    cast(institution_name as string) as recipient_name,
    cast(null as string) as facility_type,
    cast(street_code as string) as street_code
from {{ source('ingested', 'institutions') }}
