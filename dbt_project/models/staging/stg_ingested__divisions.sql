select
    cast(street_code as string) as street_code,
    cast(street_name as string) as street_name,
    cast(community_code as string) as community_code,
    cast(community_name as string) as community_name
from {{ source('ingested', 'divisions') }}
