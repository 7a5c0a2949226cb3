-- One row per under-3 child in scope at D (resident, or residence unknown: district only) with
-- what the child indicators count: archived by D (the child's first archive is dated <= D),
-- checked in the year to D, on the 4:2:2 schedule.
with first_archives as (
    select
        child_key,
        min(record_date) as first_archive_date
    from {{ ref('int_child_linked_records') }}
    where source = 'health_archives'
    group by child_key
),

checks as (
    select
        child_key,
        record_date
    from {{ ref('int_child_linked_records') }}
    where source = 'health_checks'
)

select
    children.child_key,
    children.period,
    residence.street_code,
    residence.community_code,
    children.age_months,
    children.age_months >= 1 as is_one_month_or_older,
    coalesce(first_archives.first_archive_date <= children.period_end, false) as is_archived,
    -- the child's latest check dated <= D lies in the year to D
    coalesce({{ in_year_to('latest_check.record_date', 'children.period_end') }}, false)
        as is_checked_in_year,
    schedule.is_on_schedule
from {{ ref('int_under_three_children_per_period') }} as children
inner join {{ ref('int_child_residence_per_period') }} as residence
    on residence.child_key = children.child_key and residence.period = children.period
inner join {{ ref('int_child_schedule_per_period') }} as schedule
    on schedule.child_key = children.child_key and schedule.period = children.period
left join first_archives on first_archives.child_key = children.child_key
-- ASOF: one row per child and D, no join with every check of the child (that fan-out, and a
-- list of check dates per child, ran out of DuckDB memory at province scale)
asof left join checks as latest_check
    on latest_check.child_key = children.child_key and children.period_end >= latest_check.record_date
where residence.residence_status in ('resident', 'unknown')
