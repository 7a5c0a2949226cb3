select
    cast(source as varchar) as source,
    cast(record_key as varchar) as record_key,
    cast(child_key as varchar) as child_key,
    cast(child_id as integer) as child_id,
    cast(record_date as date) as record_date,
    cast(community_code as varchar) as community_code,
    cast(closed_on as date) as closed_on,
    cast(close_reason as varchar) as close_reason
from {{ source('identity', 'child_records') }}
