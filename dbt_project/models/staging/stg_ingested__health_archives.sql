select
    cast(record_key as string) as archive_record_key,
    cast(community_code as string) as community_code,
    cast(facility_code as string) as facility_code,
    cast(archive_date as date) as archive_date,
    cast(closed_on as date) as closed_on,
    cast(close_reason as string) as close_reason
from {{ source('ingested', 'health_archives') }}
