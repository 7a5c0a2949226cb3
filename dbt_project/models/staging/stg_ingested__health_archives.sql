select
    cast(record_key as varchar) as archive_record_key,
    cast(community_code as varchar) as community_code,
    cast(facility_code as varchar) as facility_code,
    cast(archive_date as date) as archive_date,
    cast(closed_on as date) as closed_on,
    cast(close_reason as varchar) as close_reason
from {{ source('ingested', 'health_archives') }}
