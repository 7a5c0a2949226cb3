select
    cast(record_key as varchar) as enrollment_record_key,
    cast(institution_code as varchar) as institution_code,
    cast(class_type as varchar) as class_type,
    cast(enroll_date as date) as enroll_date,
    cast(leave_date as date) as leave_date
from {{ source('ingested', 'enrollments') }}
