-- The 4:2:2 schedule of each under-3 child at D: milestones at 3, 6, 8, 12, 18, 24, 30, 36
-- months; milestone m is due when age >= m + 1; done = distinct check dates at ages of 2
-- months or more, up to D (newborn and one-month visits are not part of 4:2:2).
-- Done is counted once per child along its check dates (the n-th distinct date: n done by
-- then); each D takes the count at the child's latest counted date <= D (an ASOF join).
{% set milestones = [3, 6, 8, 12, 18, 24, 30, 36] %}
with births as (
    select distinct
        child_key,
        birth_date
    from {{ ref('int_under_three_children_per_period') }}
),

checks_done_by_date as (
    -- dense_rank: the n-th distinct date (two checks on one day are one done).
    select
        checks.child_key,
        checks.record_date,
        dense_rank() over (
            partition by checks.child_key
            order by checks.record_date
        ) as checks_done
    from {{ ref('int_child_linked_records') }} as checks
    inner join births on checks.child_key = births.child_key
    where
        checks.source = 'health_checks'
        and {{ age_in_months('births.birth_date', 'checks.record_date') }} >= 2
),

due as (
    select
        child_key,
        period,
        period_end,
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
    coalesce(done.checks_done, 0) as checks_done,
    coalesce(done.checks_done, 0) >= due.checks_due as is_on_schedule
from due
asof left join checks_done_by_date as done
    on due.child_key = done.child_key and due.period_end >= done.record_date
