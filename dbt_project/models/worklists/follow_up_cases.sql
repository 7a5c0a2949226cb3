-- The follow-up cases (contract section 8): one row per period, reason and child (or
-- enrollment), with its recipient and the scope it counts in. Each reason's cases are exactly
-- its indicator's units outside the numerator, taken from the same facts; follow_up_rows adds
-- what a recipient sees. Working state only: never published.
-- A view: the backlog and the tests read it once each (cheaper than writing every period).
{{ config(materialized='view') }}
with child_cases as (
    -- One pass over the children: each joins the reasons it has (at most three rows each).
    select
        children.period,
        children.period_end,
        reasons.reason,
        children.recipient_type,
        children.recipient_code,
        children.recipient_name,
        children.recipient_facility_type,
        children.street_code,
        children.community_code,
        children.child_id,
        cast(null as string) as enrollment_record_key,
        cast(null as string) as institution_code,
        case when reasons.reason = 'behind_schedule' then children.checks_due end as milestones_due,
        case when reasons.reason = 'behind_schedule' then children.checks_done end as checks_done
    from {{ ref('int_child_follow_up_per_period') }} as children
    inner join {{ ref('follow_up_reasons') }} as reasons
        on
            (reasons.reason = 'no_archive' and children.is_without_archive)
            or (reasons.reason = 'no_check_in_year' and children.is_without_check_in_year)
            or (reasons.reason = 'behind_schedule' and children.is_behind_schedule)
),

enrollment_cases as (
    select
        in_period.period,
        periods.period_end,
        'enrolled_without_entry_check' as reason,
        'institution' as recipient_type,
        in_period.institution_code as recipient_code,
        coalesce(institutions.recipient_name, in_period.institution_code) as recipient_name,
        cast(null as string) as recipient_facility_type,
        in_period.street_code,
        in_period.community_code,
        in_period.child_id,
        in_period.enrollment_record_key,
        in_period.institution_code,
        cast(null as integer) as milestones_due,
        cast(null as integer) as checks_done
    from {{ ref('int_enrollments_in_period') }} as in_period
    inner join {{ ref('int_periods') }} as periods on in_period.period = periods.period
    left join {{ ref('stg_ingested__follow_up_recipients') }} as institutions
        on institutions.recipient_type = 'institution' and in_period.institution_code = institutions.recipient_code
    where not in_period.had_check
)

select * from child_cases
union all
select * from enrollment_cases
