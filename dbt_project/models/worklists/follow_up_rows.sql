-- The follow-up worklists (contract section 8): one row per child (or enrollment) and reason,
-- for every period. Each reason's rows are exactly its indicator's units outside the
-- numerator, taken from the same facts. Working state only: never published.
with child_rows as (
    -- One pass over the children: each joins the reasons it has (at most three rows each).
    select
        children.period,
        children.period_end,
        reasons.reason,
        children.recipient_type,
        children.recipient_code,
        children.recipient_name,
        children.recipient_facility_type,
        children.handle_kind,
        children.handle_key,
        children.handle_facility_code,
        children.birth_date,
        children.sex,
        children.street_code,
        children.community_code,
        children.institution_code,
        case when reasons.reason = 'behind_schedule' then children.checks_due end as milestones_due,
        case when reasons.reason = 'behind_schedule' then children.checks_done end as checks_done,
        cast(null as date) as enroll_date,
        cast(null as string) as class_type,
        children.child_key as row_key
    from {{ ref('int_child_follow_up_per_period') }} as children
    inner join {{ ref('follow_up_reasons') }} as reasons
        on
            (reasons.reason = 'no_archive' and children.is_without_archive)
            or (reasons.reason = 'no_check_in_year' and children.is_without_check_in_year)
            or (reasons.reason = 'behind_schedule' and children.is_behind_schedule)
),

enrollment_rows as (
    select
        in_period.period,
        periods.period_end,
        'enrolled_without_entry_check' as reason,
        'institution' as recipient_type,
        enrollments.institution_code as recipient_code,
        coalesce(institutions.recipient_name, enrollments.institution_code) as recipient_name,
        cast(null as string) as recipient_facility_type,
        'enrollment_no' as handle_kind,
        enrollments.enrollment_record_key as handle_key,
        cast(null as string) as handle_facility_code,
        children.birth_date,
        children.sex,
        in_period.street_code,
        in_period.community_code,
        enrollments.institution_code,
        cast(null as integer) as milestones_due,
        cast(null as integer) as checks_done,
        enrollments.enroll_date,
        enrollments.class_type,
        enrollments.enrollment_record_key as row_key
    from {{ ref('int_enrollments_in_period') }} as in_period
    inner join {{ ref('int_periods') }} as periods on in_period.period = periods.period
    inner join {{ ref('int_child_enrollments') }} as enrollments
        on in_period.enrollment_record_key = enrollments.enrollment_record_key
    left join {{ ref('stg_identity__children') }} as children on enrollments.child_id = children.child_id
    left join {{ ref('stg_ingested__follow_up_recipients') }} as institutions
        on institutions.recipient_type = 'institution' and enrollments.institution_code = institutions.recipient_code
    where not in_period.had_check
),

all_rows as (
    select * from child_rows
    union all
    select * from enrollment_rows
)

select
    cast(all_rows.period as string) as period,
    cast(all_rows.period_end as date) as period_end,
    cast(all_rows.reason as string) as reason,
    cast(reasons.reason_zh as string) as reason_zh,
    cast(all_rows.recipient_type as string) as recipient_type,
    cast(all_rows.recipient_code as string) as recipient_code,
    cast(all_rows.recipient_name as string) as recipient_name,
    cast(all_rows.recipient_facility_type as string) as recipient_facility_type,
    cast(all_rows.handle_kind as string) as handle_kind,
    cast(all_rows.handle_key as string) as handle_key,
    cast(all_rows.handle_facility_code as string) as handle_facility_code,
    cast(all_rows.birth_date as date) as birth_date,
    cast(all_rows.sex as string) as sex,
    cast(all_rows.street_code as string) as street_code,
    cast(all_rows.community_code as string) as community_code,
    cast(communities.community_name as string) as community_name,
    cast(all_rows.institution_code as string) as institution_code,
    cast(institutions.recipient_name as string) as institution_name,
    cast(all_rows.milestones_due as integer) as milestones_due,
    cast(all_rows.checks_done as integer) as checks_done,
    cast(all_rows.enroll_date as date) as enroll_date,
    cast(all_rows.class_type as string) as class_type,
    cast(all_rows.row_key as string) as row_key
from all_rows
inner join {{ ref('follow_up_reasons') }} as reasons on all_rows.reason = reasons.reason
left join {{ ref('stg_ingested__divisions') }} as communities
    on all_rows.community_code = communities.community_code
left join {{ ref('stg_ingested__follow_up_recipients') }} as institutions
    on institutions.recipient_type = 'institution' and all_rows.institution_code = institutions.recipient_code
