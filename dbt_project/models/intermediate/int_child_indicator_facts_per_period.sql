-- One row per under-3 child in scope at D (resident, or residence unknown: district only) with
-- what the child indicators count: archived by D (the child has an archive dated <= D),
-- checked in the year to D, on the 4:2:2 schedule (with the checks due and done, which the
-- worklists show).
-- Residence and checks each carry what they found at D (one row per child and D both; both
-- views, computed here): one join of the two, no second pass over the child's archives or
-- checks.
select
    residence.child_id,
    residence.period,
    residence.street_code,
    residence.community_code,
    schedule.age_months,
    schedule.age_months >= 1 as is_one_month_or_older,
    residence.is_archived,
    schedule.is_checked_in_year,
    schedule.is_on_schedule,
    schedule.checks_due,
    schedule.checks_done
from {{ ref('int_child_residence_per_period') }} as residence
inner join {{ ref('int_child_schedule_per_period') }} as schedule
    on schedule.child_id = residence.child_id and schedule.period = residence.period
where residence.residence_status in ('resident', 'unknown')
