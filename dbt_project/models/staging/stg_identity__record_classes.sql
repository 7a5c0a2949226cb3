select
    cast(src as smallint) as src,
    cast(records as bigint) as records,
    cast(link_method as string) as link_method
from {{ source('identity', 'record_classes') }}
