-- One row per under-3 child in scope and period with at least one follow-up reason (contract
-- section 8), from the same facts as the child indicators: the reasons, the responsible
-- centre, the handle that centre can look up, and what a row shows of the child.
-- Handle: the latest archive dated <= D made by the centre, else the birth certificate, else
-- the child's own ID, else another facility's latest archive dated <= D, else none. Of two
-- archives of one date the greater record_key is the latest (as for residence).
-- A view: follow_up_rows reads it once (cheaper than writing every child and period).
{{ config(materialized='view') }}
with gaps as (
    select
        child_id,
        period,
        street_code,
        community_code,
        checks_due,
        checks_done,
        is_one_month_or_older and not is_archived as is_without_archive,
        not is_checked_in_year as is_without_check_in_year,
        not is_on_schedule as is_behind_schedule
    from {{ ref('int_child_indicator_facts_per_period') }}
    where (is_one_month_or_older and not is_archived) or not is_checked_in_year or not is_on_schedule
),

placed as (
    select
        gaps.*,
        periods.period_end,
        centres.recipient_type,
        centres.recipient_code,
        centres.recipient_name,
        centres.recipient_facility_type
    from gaps
    inner join {{ ref('int_periods') }} as periods on gaps.period = periods.period
    left join {{ ref('int_responsible_centre_per_community') }} as centres
        on gaps.community_code is not distinct from centres.community_code
),

child_archives as (
    select
        records.child_id,
        archives.record_key,
        archives.archive_key,
        archives.facility_code,
        archives.archive_date,
        -- The child's archives numbered oldest first: the latest is the one of the greatest
        -- number (max_by over an integer instead of a comparison of the archives' values).
        row_number() over (
            partition by records.child_id
            order by archives.archive_date, archives.record_key
        ) as archive_rank
    from {{ ref('stg_ingested__child_handle_keys') }} as archives
    inner join {{ ref('stg_identity__child_records') }} as records
        on archives.record_key = records.record_key
    where records.source = 'health_archives'
),

archive_candidates as (
    select
        placed.child_id,
        placed.period,
        child_archives.archive_rank,
        child_archives.archive_key,
        child_archives.facility_code,
        coalesce(placed.recipient_code = child_archives.facility_code, false) as is_by_recipient
    from placed
    inner join child_archives
        on placed.child_id = child_archives.child_id and placed.period_end >= child_archives.archive_date
),

latest_archives as (
    select
        child_id,
        period,
        max_by(archive_key, archive_rank) filter (where is_by_recipient) as own_archive_key,
        max_by(archive_key, archive_rank) as any_archive_key,
        max_by(facility_code, archive_rank) as any_archive_facility_code
    from archive_candidates
    group by child_id, period
),

-- The enrolling institution at D: the latest enrollment begun by D and not left by D.
enrolled_at_d as (
    select
        placed.child_id,
        placed.period,
        child_enrollments.enroll_date,
        child_enrollments.enrollment_record_key,
        child_enrollments.institution_code
    from placed
    inner join {{ ref('int_child_enrollments') }} as child_enrollments
        on
            placed.child_id = child_enrollments.child_id
            and placed.period_end >= child_enrollments.enroll_date
            and (child_enrollments.leave_date is null or placed.period_end < child_enrollments.leave_date)
),

current_enrollments as (
    select
        child_id,
        period,
        max({{ pack_struct(['enroll_date', 'enrollment_record_key', 'institution_code']) }}) as enrollment
    from enrolled_at_d
    group by child_id, period
),

handles as (
    select
        placed.*,
        children.birth_cert_key,
        children.id_key,
        children.child_key,
        children.birth_date,
        children.sex,
        latest_archives.own_archive_key,
        latest_archives.any_archive_key,
        latest_archives.any_archive_facility_code,
        {{ struct_field('current_enrollments.enrollment', 'institution_code') }} as institution_code
    from placed
    left join latest_archives
        on placed.child_id = latest_archives.child_id and placed.period = latest_archives.period
    inner join {{ ref('stg_identity__children') }} as children on placed.child_id = children.child_id
    left join current_enrollments
        on placed.child_id = current_enrollments.child_id and placed.period = current_enrollments.period
)

select
    handles.child_id,
    handles.child_key,
    handles.period,
    handles.period_end,
    handles.street_code,
    handles.community_code,
    handles.is_without_archive,
    handles.is_without_check_in_year,
    handles.is_behind_schedule,
    handles.checks_due,
    handles.checks_done,
    handles.recipient_type,
    handles.recipient_code,
    handles.recipient_name,
    handles.recipient_facility_type,
    case
        when handles.own_archive_key is not null then 'archive_no'
        when handles.birth_cert_key is not null then 'birth_cert_no'
        when handles.id_key is not null then 'id_number'
        when handles.any_archive_key is not null then 'archive_no'
        else 'none'
    end as handle_kind,
    coalesce(handles.own_archive_key, handles.birth_cert_key, handles.id_key, handles.any_archive_key)
        as handle_key,
    case
        when handles.own_archive_key is not null then handles.recipient_code
        when handles.birth_cert_key is null and handles.id_key is null then handles.any_archive_facility_code
    end as handle_facility_code,
    handles.birth_date,
    handles.sex,
    handles.institution_code
from handles
