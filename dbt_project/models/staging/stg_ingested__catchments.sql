select
    cast(facility_code as string) as facility_code,
    cast(community_code as string) as community_code
from {{ source('ingested', 'catchments') }}
