-- Institutions operating at each period's D (filed_on <= D and not closed on or before D),
-- with what the institution indicators need at D. Affordable (普惠) only from
-- `affordable_since` when given.
select
    periods.period,
    institutions.institution_code,
    places.street_code,
    places.community_code,
    institutions.institution_type,
    institutions.slots,
    institutions.is_affordable
    and coalesce(institutions.affordable_since <= periods.period_end, true) as is_affordable_at_d,
    institutions.institution_type = 'care_station' as is_care_station,
    coalesce(institutions.provincial_standard_on <= periods.period_end, false) as has_provincial_standard
from {{ ref('stg_ingested__institutions') }} as institutions
inner join {{ ref('int_periods') }} as periods
    on {{ active_at('institutions.filed_on', 'institutions.closed_on', 'periods.period_end') }}
inner join {{ ref('int_institution_places') }} as places
    on places.institution_code = institutions.institution_code
