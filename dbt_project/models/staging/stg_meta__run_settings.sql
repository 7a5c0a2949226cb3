select
    cast(run_id as string) as run_id,
    cast(as_of as date) as as_of,
    cast(period_start as date) as period_start,
    cast(district_code as string) as district_code,
    cast(district_name as string) as district_name,
    cast(today as date) as today,
    cast(timezone as string) as timezone
from {{ source('meta', 'run_settings') }}
