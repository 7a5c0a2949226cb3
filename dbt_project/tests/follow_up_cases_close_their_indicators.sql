-- Every follow-up reason closes exactly the gap of its indicator (contract section 8): for
-- every scope and period, its cases in worklist.follow_up_cases equal the indicator's
-- denominator minus its numerator in marts.indicator_values. Returns the cells that differ.
-- Attached to the worklist rows in Dagster (a check on one asset, dagster-dbt's `ref` meta).
{{ config(meta={'dagster': {'ref': {'name': 'follow_up_cases'}}}) }}
with reasons as (
    select
        reason,
        indicator_code
    from {{ ref('follow_up_reasons') }}
),

gaps as (
    select
        reasons.reason,
        indicator_values.scope_level,
        indicator_values.scope_code,
        indicator_values.period,
        indicator_values.denominator - indicator_values.numerator as gap
    from {{ ref('indicator_values') }} as indicator_values
    inner join reasons on indicator_values.indicator_code = reasons.indicator_code
),

-- The cases counted per reason, period and place first: the scopes then join a few
-- thousand cells, not every case.
cells as (
    select
        reason,
        period,
        street_code,
        community_code,
        count(*) as cases
    from {{ ref('follow_up_cases') }}
    group by reason, period, street_code, community_code
),

counted as (
    select
        cells.reason,
        scopes.scope_level,
        scopes.scope_code,
        cells.period,
        sum(cells.cases) as follow_up_cases
    from cells
    inner join {{ ref('int_scope_units') }} as scopes
        on
            scopes.scope_level = 'district'
            or (scopes.scope_level = 'street' and cells.street_code = scopes.scope_code)
            or (scopes.scope_level = 'community' and cells.community_code = scopes.scope_code)
    group by cells.reason, scopes.scope_level, scopes.scope_code, cells.period
)

select
    coalesce(gaps.reason, counted.reason) as reason,
    coalesce(gaps.scope_level, counted.scope_level) as scope_level,
    coalesce(gaps.scope_code, counted.scope_code) as scope_code,
    coalesce(gaps.period, counted.period) as period,
    gaps.gap,
    counted.follow_up_cases
from gaps
full outer join counted
    on
        gaps.reason = counted.reason
        and gaps.scope_level = counted.scope_level
        and gaps.scope_code = counted.scope_code
        and gaps.period = counted.period
where coalesce(gaps.gap, 0) != coalesce(counted.follow_up_cases, 0)
