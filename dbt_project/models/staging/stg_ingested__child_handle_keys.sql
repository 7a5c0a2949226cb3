-- The archive numbers a follow-up handle can come from, with their facility and date. A
-- child's certificate and own ID come from identity (stg_identity__children). An archive
-- number on a check points at an archive: not the check's own.
select
    cast(record_key as string) as record_key,
    cast(archive_key as string) as archive_key,
    cast(facility_code as string) as facility_code,
    cast(archive_date as date) as archive_date
from {{ source('ingested', 'health_archives') }}
