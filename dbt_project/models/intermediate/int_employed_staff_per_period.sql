-- Staff employed at each D (hired_on <= D and not left on or before D) at an operating
-- institution, or at one the register does not know (district scope only), with whether
-- they hold a qualifying certificate by D. One row per staff member, institution and period.
select distinct
    periods.period,
    staff.staff_key,
    staff.institution_code,
    operating.street_code,
    operating.community_code,
    coalesce(qualifications.qualified_from <= periods.period_end, false) as is_certified
from {{ ref('stg_ingested__staff') }} as staff
inner join {{ ref('int_periods') }} as periods
    on {{ active_at('staff.hired_on', 'staff.left_on', 'periods.period_end') }}
left join {{ ref('stg_ingested__institutions') }} as registered
    on registered.institution_code = staff.institution_code
left join {{ ref('int_operating_institutions_per_period') }} as operating
    on operating.institution_code = staff.institution_code and operating.period = periods.period
left join {{ ref('int_staff_qualifications') }} as qualifications
    on qualifications.staff_key = staff.staff_key
where operating.institution_code is not null or registered.institution_code is null
