-- Each enrollment with the child it belongs to: read once for the worklists (the enrolling
-- institution of a child at D, and the enrollment rows' birth date and sex).
select
    enrollments.enrollment_record_key,
    records.child_id,
    enrollments.institution_code,
    enrollments.class_type,
    enrollments.enroll_date,
    enrollments.leave_date
from {{ ref('stg_ingested__enrollments') }} as enrollments
inner join {{ ref('stg_identity__child_records') }} as records
    on enrollments.enrollment_record_key = records.record_key
where records.source = 'enrollments'
