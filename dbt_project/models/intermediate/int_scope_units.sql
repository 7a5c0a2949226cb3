-- Every scope an indicator is reported for: the district (from the run's settings), its streets
-- and its communities (from the divisions), with their names.
select
    'district' as scope_level,
    district_code as scope_code,
    district_name as scope_name,
    cast(null as string) as street_code
from {{ ref('stg_meta__run_settings') }}
union all
select
    'street' as scope_level,
    street_code as scope_code,
    min(street_name) as scope_name,
    street_code
from {{ ref('stg_ingested__divisions') }}
group by street_code
union all
select
    'community' as scope_level,
    community_code as scope_code,
    min(community_name) as scope_name,
    min(street_code) as street_code
from {{ ref('stg_ingested__divisions') }}
group by community_code
