-- The checks of each under-3 child at D. The 4:2:2 schedule: milestones at 3, 6, 8, 12, 18,
-- 24, 30, 36 months; milestone m is due when age >= m + 1; done = distinct check dates at ages
-- of 2 months or more, up to D (newborn and one-month visits are not part of 4:2:2). Checked
-- in the year to D: any check (of any age) with D - 365 days < check date <= D.
-- Each child's check dates are gathered once (int_child_check_dates) and each D filters them: no
-- join of every period with every check of the child, no sort; checked in the year comes from
-- the same list. sqlfluff takes a lambda's parameter for a column (noqa: RF02).
-- A view: int_child_indicator_facts_per_period reads it once (cheaper than writing a table).
{{ config(materialized='view') }}
{% set milestones = [3, 6, 8, 12, 18, 24, 30, 36] %}
with births as (
    select distinct
        child_id,
        birth_date
    from {{ ref('int_under_three_children_per_period') }}
),

counted_check_dates as (
    select
        births.child_id,
        {{ filter_list(
            'check_dates.check_dates', 'check_date', age_in_months('births.birth_date', 'check_date') ~ ' >= 2'
        ) }} as counted_check_dates,  -- noqa: RF02
        check_dates.check_dates
    from births
    inner join {{ ref('int_child_check_dates') }} as check_dates on births.child_id = check_dates.child_id
),

due as (
    select
        child_id,
        period,
        period_end,
        age_months,
        0
        {%- for milestone in milestones %}
            + case when age_months >= {{ milestone + 1 }} then 1 else 0 end
        {%- endfor %} as checks_due
    from {{ ref('int_under_three_children_per_period') }}
),

done as (
    select
        due.child_id,
        due.period,
        due.age_months,
        due.checks_due,
        coalesce(
            {{ list_size(filter_list(
                'counted.counted_check_dates', 'check_date', 'check_date <= due.period_end'
            )) }},  -- noqa: RF02
            0
        ) as checks_done,
        coalesce(
            {{ list_size(filter_list(
                'counted.check_dates', 'check_date', in_year_to('check_date', 'due.period_end')
            )) }} > 0,  -- noqa: RF02
            false
        ) as is_checked_in_year
    from due
    left join counted_check_dates as counted on due.child_id = counted.child_id
)

select
    child_id,
    period,
    age_months,
    checks_due,
    checks_done,
    checks_done >= checks_due as is_on_schedule,
    is_checked_in_year
from done
