select
    cast(source as varchar) as source,
    cast(record_key as varchar) as record_key,
    cast(child_key as varchar) as child_key
from {{ source('identity', 'child_records') }}
