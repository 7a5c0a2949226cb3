-- Each street of the divisions at each D: whether an operating affordable institution with
-- slots serves it (street_coverage) and whether an operating care station does
-- (station_street_coverage).
with streets as (
    select distinct street_code from {{ ref('stg_ingested__divisions') }}
)

select
    periods.period,
    streets.street_code,
    cast(null as string) as community_code,
    coalesce(bool_or(institutions.is_affordable_at_d and institutions.slots > 0), false) as has_affordable_slots,
    coalesce(bool_or(institutions.is_care_station), false) as has_care_station
from streets
cross join {{ ref('int_periods') }} as periods
left join {{ ref('int_operating_institutions_per_period') }} as institutions
    on institutions.street_code = streets.street_code and institutions.period = periods.period
group by periods.period, streets.street_code
