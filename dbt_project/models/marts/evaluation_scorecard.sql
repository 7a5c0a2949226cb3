-- One row per measurable plan target per period at district scope (contract section 6). The
-- three-in-one target (applies_to = served_streets) takes the lowest record_filing_rate among
-- the streets served by a designated centre; null when no centre is designated yet.
with target_values as (
    select
        targets.target_code,
        values_.period,
        case
            when targets.applies_to = 'served_streets'
                then min(values_.value) filter (where values_.scope_level = 'street' and values_.target is not null)
            else min(values_.value) filter (where values_.scope_level = 'district')
        end as value
    from {{ ref('plan_targets') }} as targets
    inner join {{ ref('indicator_values') }} as values_
        on values_.indicator_code = targets.indicator_code
    group by targets.target_code, targets.applies_to, values_.period
)

select
    cast(targets.target_code as string) as target_code,
    cast(targets.target_zh as string) as target_zh,
    cast(targets.indicator_code as string) as indicator_code,
    cast(target_values.period as string) as period,
    cast(targets.comparator as string) as comparator,
    cast(targets.target as double) as target,
    cast(target_values.value as double) as value,
    cast({{ meets_target('target_values.value', 'targets.comparator', 'targets.target') }} as boolean) as met
from {{ ref('plan_targets') }} as targets
inner join target_values on target_values.target_code = targets.target_code
