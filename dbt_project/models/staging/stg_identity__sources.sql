select
    cast(src as smallint) as src,
    cast(source as string) as source
from {{ source('identity', 'sources') }}
