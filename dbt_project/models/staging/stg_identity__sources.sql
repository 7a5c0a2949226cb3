select
    cast(src as utinyint) as src,
    cast(source as varchar) as source
from {{ source('identity', 'sources') }}
