-- One row per street, period and street-level target (contract section 6): the street rows of
-- marts.indicator_values that carry a plan target, so the target rules (record filing only on
-- streets served by a three-in-one centre, the district counts never) are those of that mart.
-- `change` is the contract's column name (noqa: RF04).
with first_period as (
    select periods.period
    from {{ ref('int_periods') }} as periods
    where periods.period_start = (select min(all_periods.period_start) from {{ ref('int_periods') }} as all_periods)
),

street_values as (
    select
        indicator_code,
        scope_code as street_code,
        scope_name as street_name,
        period,
        value,
        target,
        target_met
    from {{ ref('indicator_values') }}
    where scope_level = 'street'
),

baselines as (
    select
        street_values.indicator_code,
        street_values.street_code,
        street_values.value as baseline_value
    from street_values
    inner join first_period on street_values.period = first_period.period
)

select
    cast(street_values.street_code as string) as street_code,
    cast(street_values.street_name as string) as street_name,
    cast(street_values.period as string) as period,
    cast(targets.target_code as string) as target_code,
    cast(street_values.indicator_code as string) as indicator_code,
    cast(street_values.value as double) as value,
    cast(street_values.target as double) as target,
    cast(street_values.target_met as boolean) as met,
    cast(baselines.baseline_value as double) as baseline_value,
    cast(street_values.value - baselines.baseline_value as double) as change  -- noqa: RF04
from street_values
inner join {{ ref('plan_targets') }} as targets
    on
        street_values.indicator_code = targets.indicator_code
        and targets.applies_to != 'district'
left join baselines
    on
        street_values.indicator_code = baselines.indicator_code
        and street_values.street_code = baselines.street_code
where street_values.target is not null
