select
    cast(child_key as varchar) as child_key,
    cast(child_id as integer) as child_id,
    cast(birth_date as date) as birth_date,
    cast(birth_community_code as varchar) as birth_community_code
from {{ source('identity', 'children') }}
