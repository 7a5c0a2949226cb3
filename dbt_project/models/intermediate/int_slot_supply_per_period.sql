-- Units of slots_per_community: each operating institution with its slots, and each
-- community of the divisions counted once (the denominator), per period.
select
    period,
    street_code,
    community_code,
    slots,
    0 as communities
from {{ ref('int_operating_institutions_per_period') }}
union all
select
    periods.period,
    divisions.street_code,
    divisions.community_code,
    0 as slots,
    1 as communities
from {{ ref('stg_ingested__divisions') }} as divisions
cross join {{ ref('int_periods') }} as periods
