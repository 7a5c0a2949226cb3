select
    cast(child_id as integer) as child_id,
    cast(sex as string) as sex
from {{ source('identity', 'children') }}
