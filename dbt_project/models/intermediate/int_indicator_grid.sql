-- Every row marts.indicator_values must hold: each indicator for each period at the district
-- and each street, and the per-community indicators also at each community.
select
    indicators.code as indicator_code,
    indicators.name_zh as indicator_name_zh,
    indicators.kind,
    units.scope_level,
    units.scope_code,
    units.scope_name,
    units.street_code,
    periods.period,
    periods.period_end
from {{ ref('indicators') }} as indicators
cross join {{ ref('int_periods') }} as periods
inner join {{ ref('int_scope_units') }} as units
    on units.scope_level != 'community' or indicators.per_community
