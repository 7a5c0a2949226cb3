select
    cast(src as utinyint) as src,
    cast(records as bigint) as records,
    cast(link_method as varchar) as link_method
from {{ source('identity', 'record_classes') }}
