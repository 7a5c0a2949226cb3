select
    cast(child_key as varchar) as child_key,
    cast(birth_date as date) as birth_date
from {{ source('identity', 'children') }}
