-- Every row marts.indicator_values must hold: each indicator for each period at each scope
-- level it is computed for (seed column scope_levels).
select
    indicators.code as indicator_code,
    indicators.name_zh as indicator_name_zh,
    indicators.unit,
    units.scope_level,
    units.scope_code,
    units.scope_name,
    units.street_code,
    periods.period,
    periods.period_end
from {{ ref('indicator_definitions') }} as indicators
cross join {{ ref('int_periods') }} as periods
inner join {{ ref('int_scope_units') }} as units
    on array_contains(split(indicators.scope_levels, ','), units.scope_level)
