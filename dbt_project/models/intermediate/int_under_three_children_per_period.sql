-- Children under 3 at each period's reference date D: born on or before D, 0 <= age < 36
-- months (age in whole months completed).
with ages as (
    select
        children.child_id,
        children.birth_date,
        periods.period,
        periods.period_start,
        periods.period_end,
        {{ age_in_months('children.birth_date', 'periods.period_end') }} as age_months
    from {{ ref('stg_identity__children') }} as children
    inner join {{ ref('int_periods') }} as periods
        on children.birth_date <= periods.period_end
)

select *
from ages
where age_months < 36
