-- Each enrollment with the child it belongs to, joined once for the enrollment check rate and
-- the worklists (the enrolling institution of a child at D, the enrollment rows).
select
    enrollments.enrollment_record_key,
    records.child_id,
    enrollments.institution_code,
    enrollments.class_type,
    enrollments.enroll_date,
    enrollments.leave_date
from {{ ref('stg_ingested__enrollments') }} as enrollments
left join {{ ref('stg_identity__child_records') }} as records
    on records.source = 'enrollments' and enrollments.enrollment_record_key = records.record_key
