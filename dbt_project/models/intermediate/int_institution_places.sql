-- Where each registered institution counts: its street and community when the divisions know
-- them (an unknown code is a warning upstream; the institution then counts at district scope).
with streets as (
    select distinct street_code from {{ ref('stg_ingested__divisions') }}
)

select
    institutions.institution_code,
    streets.street_code,
    communities.community_code
from {{ ref('stg_ingested__institutions') }} as institutions
left join streets
    on streets.street_code = institutions.street_code
left join {{ ref('stg_ingested__divisions') }} as communities
    on communities.community_code = institutions.community_code
