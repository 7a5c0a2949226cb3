-- The follow-up worklists (contract section 8): each case of follow_up_cases with what its
-- recipient sees: the handle (for a child, the one its centre can look up; for an enrollment,
-- the enrollment number), birth date, sex, community, enrolling institution, and for
-- behind_schedule the milestones due and checks done. Working state only: never published.
-- A view: only the export reads it, for the latest period.
{{ config(materialized='view') }}
select
    cast(cases.period as string) as period,
    cast(cases.period_end as date) as period_end,
    cast(cases.reason as string) as reason,
    cast(reasons.reason_zh as string) as reason_zh,
    cast(cases.recipient_type as string) as recipient_type,
    cast(cases.recipient_code as string) as recipient_code,
    cast(cases.recipient_name as string) as recipient_name,
    cast(cases.recipient_facility_type as string) as recipient_facility_type,
    cast(case when cases.enrollment_record_key is not null then 'enrollment_no' else handles.handle_kind end as string)
        as handle_kind,
    cast(coalesce(cases.enrollment_record_key, handles.handle_key) as string) as handle_key,
    cast(handles.handle_facility_code as string) as handle_facility_code,
    cast(children.birth_date as date) as birth_date,
    cast(children.sex as string) as sex,
    cast(cases.street_code as string) as street_code,
    cast(cases.community_code as string) as community_code,
    cast(communities.community_name as string) as community_name,
    cast(coalesce(cases.institution_code, handles.institution_code) as string) as institution_code,
    cast(institutions.recipient_name as string) as institution_name,
    cast(cases.milestones_due as integer) as milestones_due,
    cast(cases.checks_done as integer) as checks_done,
    cast(enrollments.enroll_date as date) as enroll_date,
    cast(enrollments.class_type as string) as class_type,
    cast(coalesce(cases.enrollment_record_key, children.child_key) as string) as row_key
from {{ ref('follow_up_cases') }} as cases
inner join {{ ref('follow_up_reasons') }} as reasons on cases.reason = reasons.reason
left join {{ ref('int_child_follow_up_handles_per_period') }} as handles
    on cases.enrollment_record_key is null and cases.child_id = handles.child_id and cases.period = handles.period
left join {{ ref('int_child_enrollments') }} as enrollments
    on cases.enrollment_record_key = enrollments.enrollment_record_key
left join {{ ref('stg_identity__children') }} as children on cases.child_id = children.child_id
left join {{ ref('stg_ingested__divisions') }} as communities
    on cases.community_code = communities.community_code
left join {{ ref('stg_ingested__follow_up_recipients') }} as institutions
    on
        institutions.recipient_type = 'institution'
        and coalesce(cases.institution_code, handles.institution_code) = institutions.recipient_code
