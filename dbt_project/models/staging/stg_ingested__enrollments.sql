select
    cast(record_key as string) as enrollment_record_key,
    cast(institution_code as string) as institution_code,
    cast(class_type as string) as class_type,
    cast(enroll_date as date) as enroll_date,
    cast(leave_date as date) as leave_date
from {{ source('ingested', 'enrollments') }}
