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

-- Each child's check dates gathered once; each D looks for one in the year to D (no join of
-- every period with every check of the child: that fan-out did not fit in memory at
-- province scale). sqlfluff takes a lambda's parameter for a column (noqa: RF02).
check_dates as (
    select
        child_key,
        list(distinct record_date) as check_dates
    from {{ ref('int_child_linked_records') }}
    where source = 'health_checks'
    group by child_key
)

select
    children.child_key,
    children.period,
    residence.street_code,
    residence.community_code,
    children.age_months,
    children.age_months >= 1 as is_one_month_or_older,
    coalesce(first_archives.first_archive_date <= children.period_end, false) as is_archived,
    coalesce(
        len(
            list_filter(
                check_dates.check_dates,
                lambda check_date: {{ in_year_to('check_date', 'children.period_end') }}  -- noqa: RF02
            )
        ) > 0,
        false
    ) as is_checked_in_year,
    schedule.is_on_schedule
from {{ ref('int_under_three_children_per_period') }} as children
inner join {{ ref('int_child_residence_per_period') }} as residence
    on residence.child_key = children.child_key and residence.period = children.period
inner join {{ ref('int_child_schedule_per_period') }} as schedule
    on schedule.child_key = children.child_key and schedule.period = children.period
left join first_archives on first_archives.child_key = children.child_key
left join check_dates on check_dates.child_key = children.child_key
where residence.residence_status in ('resident', 'unknown')
