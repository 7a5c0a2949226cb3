select
    cast(record_key as string) as birth_record_key,
    cast(birth_date as date) as birth_date,
    cast(community_code as string) as community_code
from {{ source('ingested', 'births') }}
