-- One row per indicator, scope and period (contract section 6). Aggregates only.
with valued as (
    select
        grid.indicator_code,
        grid.indicator_name_zh,
        grid.scope_level,
        grid.scope_code,
        grid.scope_name,
        grid.street_code,
        grid.period,
        grid.period_end,
        coalesce(counts.numerator, 0) as numerator,
        case when grid.unit != 'count' then coalesce(counts.denominator, 0) end as denominator,
        case
            when grid.unit = 'count' then cast(coalesce(counts.numerator, 0) as double)
            when coalesce(counts.denominator, 0) > 0 then cast(counts.numerator as double) / counts.denominator
        end as value
    from {{ ref('int_indicator_grid') }} as grid
    left join {{ ref('int_indicator_counts') }} as counts
        on
            counts.indicator_code = grid.indicator_code
            and counts.period = grid.period
            and counts.scope_level = grid.scope_level
            and counts.scope_code = grid.scope_code
),

targeted as (
    select
        valued.*,
        targets.target,
        targets.comparator
    from valued
    left join {{ ref('plan_targets') }} as targets
        on
            targets.indicator_code = valued.indicator_code
            and (
                targets.applies_to = 'every_scope'
                or (targets.applies_to = 'district' and valued.scope_level = 'district')
                or (
                    targets.applies_to = 'served_streets'
                    and valued.scope_level != 'district'
                    and exists (
                        select 1
                        from {{ ref('int_served_streets_per_period') }} as served
                        where served.period = valued.period and served.street_code = valued.street_code
                    )
                )
            )
)

select
    cast(indicator_code as string) as indicator_code,
    cast(indicator_name_zh as string) as indicator_name_zh,
    cast(scope_level as string) as scope_level,
    cast(scope_code as string) as scope_code,
    cast(scope_name as string) as scope_name,
    cast(period as string) as period,
    cast(period_end as date) as period_end,
    cast(numerator as bigint) as numerator,
    cast(denominator as bigint) as denominator,
    cast(value as double) as value,
    cast(target as double) as target,
    cast({{ meets_target('value', 'comparator', 'target') }} as boolean) as target_met
from targeted
