-- The 4:2:2 schedule of each under-3 child at D: milestones at 3, 6, 8, 12, 18, 24, 30, 36
-- months; milestone m is due when age >= m + 1; done = distinct check dates at ages of 2
-- months or more, up to D (newborn and one-month visits are not part of 4:2:2).
{% set milestones = [3, 6, 8, 12, 18, 24, 30, 36] %}
with checks_done as (
    select
        children.child_key,
        children.period,
        count(distinct checks.record_date) as checks_done
    from {{ ref('int_under_three_children_per_period') }} as children
    inner join {{ ref('int_child_linked_records') }} as checks
        on
            checks.child_key = children.child_key
            and checks.source = 'health_checks'
            and checks.record_date <= children.period_end
            and {{ age_in_months('children.birth_date', 'checks.record_date') }} >= 2
    group by children.child_key, children.period
),

due as (
    select
        child_key,
        period,
        age_months,
        0
        {%- for milestone in milestones %}
            + case when age_months >= {{ milestone + 1 }} then 1 else 0 end
        {%- endfor %} as checks_due
    from {{ ref('int_under_three_children_per_period') }}
)

select
    due.child_key,
    due.period,
    due.age_months,
    due.checks_due,
    coalesce(checks_done.checks_done, 0) as checks_done,
    coalesce(checks_done.checks_done, 0) >= due.checks_due as is_on_schedule
from due
left join checks_done on due.child_key = checks_done.child_key and due.period = checks_done.period
