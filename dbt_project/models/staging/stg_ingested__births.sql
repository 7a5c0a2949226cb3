select
    cast(record_key as varchar) as birth_record_key,
    cast(birth_date as date) as birth_date,
    cast(community_code as varchar) as community_code
from {{ source('ingested', 'births') }}
