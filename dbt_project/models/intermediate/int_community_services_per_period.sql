-- The two street coverages at community scope: each community of the divisions at each D,
-- covered when an operating affordable institution with slots (street_coverage) or an
-- operating care station (station_street_coverage) lies in the community itself.
select
    periods.period,
    cast(null as string) as street_code,
    divisions.community_code,
    coalesce(bool_or(institutions.is_affordable_at_d and institutions.slots > 0), false) as has_affordable_slots,
    coalesce(bool_or(institutions.is_care_station), false) as has_care_station
from {{ ref('stg_ingested__divisions') }} as divisions
cross join {{ ref('int_periods') }} as periods
left join {{ ref('int_operating_institutions_per_period') }} as institutions
    on divisions.community_code = institutions.community_code and periods.period = institutions.period
group by periods.period, divisions.community_code
