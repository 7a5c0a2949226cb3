-- Every follow-up reason closes exactly the gap of its indicator (contract section 8): for
-- every scope and period, its rows in worklist.follow_up_rows equal the indicator's
-- denominator minus its numerator in marts.indicator_values. Returns the cells that differ.
-- Attached to the worklist rows in Dagster (a check on one asset, dagster-dbt's `ref` meta).
{{ config(meta={'dagster': {'ref': {'name': 'follow_up_rows'}}}) }}
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

counted as (
    select
        rows_.reason,
        scopes.scope_level,
        scopes.scope_code,
        rows_.period,
        count(*) as follow_up_rows
    from {{ ref('follow_up_rows') }} as rows_
    inner join {{ ref('int_scope_units') }} as scopes
        on
            scopes.scope_level = 'district'
            or (scopes.scope_level = 'street' and rows_.street_code = scopes.scope_code)
            or (scopes.scope_level = 'community' and rows_.community_code = scopes.scope_code)
    group by rows_.reason, scopes.scope_level, scopes.scope_code, rows_.period
)

select
    coalesce(gaps.reason, counted.reason) as reason,
    coalesce(gaps.scope_level, counted.scope_level) as scope_level,
    coalesce(gaps.scope_code, counted.scope_code) as scope_code,
    coalesce(gaps.period, counted.period) as period,
    gaps.gap,
    counted.follow_up_rows
from gaps
full outer join counted
    on
        gaps.reason = counted.reason
        and gaps.scope_level = counted.scope_level
        and gaps.scope_code = counted.scope_code
        and gaps.period = counted.period
where coalesce(gaps.gap, 0) != coalesce(counted.follow_up_rows, 0)
