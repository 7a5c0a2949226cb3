-- Health facilities designated three-in-one centres by each D; the facility's street is its
-- jurisdiction (null when not in the divisions: counts at district scope only).
with streets as (
    select distinct street_code from {{ ref('stg_ingested__divisions') }}
)

select
    periods.period,
    facilities.facility_code,
    streets.street_code,
    cast(null as string) as community_code
from {{ ref('stg_ingested__health_facilities') }} as facilities
inner join {{ ref('int_periods') }} as periods
    on facilities.three_in_one_since <= periods.period_end
left join streets
    on streets.street_code = facilities.street_code
