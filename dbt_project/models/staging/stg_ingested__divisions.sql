select
    cast(street_code as varchar) as street_code,
    cast(street_name as varchar) as street_name,
    cast(community_code as varchar) as community_code,
    cast(community_name as varchar) as community_name
from {{ source('ingested', 'divisions') }}
