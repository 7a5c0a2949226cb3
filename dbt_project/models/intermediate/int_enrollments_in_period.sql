-- Enrollments dated in each period (quarter's first day to D) with whether the child had a
-- health check from 90 days before to the enroll date. Placed at the institution; an
-- institution the register does not know counts at district scope only.
with enrollments as (
    select
        enrollment_record_key,
        institution_code,
        enroll_date,
        child_id
    from {{ ref('int_child_enrollments') }}
),

checked as (
    select enrollments.enrollment_record_key
    from enrollments
    inner join {{ ref('int_child_check_dates') }} as checks
        on checks.child_id = enrollments.child_id
    where
        {{ list_size(filter_list(
            'checks.check_dates', 'check_date',
            'check_date between enrollments.enroll_date - interval 90 day and enrollments.enroll_date'
        )) }} > 0  -- noqa: RF02
)

select
    periods.period,
    enrollments.enrollment_record_key,
    enrollments.institution_code,
    enrollments.child_id,
    places.street_code,
    places.community_code,
    checked.enrollment_record_key is not null as had_check
from enrollments
inner join {{ ref('int_periods') }} as periods
    on enrollments.enroll_date between periods.period_start and periods.period_end
left join {{ ref('int_institution_places') }} as places
    on places.institution_code = enrollments.institution_code
left join checked on checked.enrollment_record_key = enrollments.enrollment_record_key
