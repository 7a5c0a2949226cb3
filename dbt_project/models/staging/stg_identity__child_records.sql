select
    cast(source as string) as source,
    cast(record_key as string) as record_key,
    cast(child_key as string) as child_key,
    cast(child_id as integer) as child_id,
    cast(record_date as date) as record_date,
    cast(community_code as string) as community_code,
    cast(closed_on as date) as closed_on,
    cast(close_reason as string) as close_reason
from {{ source('identity', 'child_records') }}
