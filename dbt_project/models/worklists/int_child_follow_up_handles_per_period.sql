-- The handle each follow-up child's responsible centre can look up (contract section 8), per
-- child and period of int_child_follow_up_per_period: the latest archive dated <= D made by
-- the centre, else the birth certificate, else the child's own ID, else another facility's
-- latest archive dated <= D, else none. Of two archives of one date the greater record_key is
-- the latest (as for residence). Also the enrolling institution at D.
-- A view: only the export reads it, for one period.
{{ config(materialized='view') }}
with followed as (
    select
        child_id,
        period,
        period_end,
        recipient_code
    from {{ ref('int_child_follow_up_per_period') }}
),

child_archives as (
    select
        records.child_id,
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
        followed.child_id,
        followed.period,
        child_archives.archive_rank,
        child_archives.archive_key,
        child_archives.facility_code,
        coalesce(followed.recipient_code = child_archives.facility_code, false) as is_by_recipient
    from followed
    inner join child_archives
        on followed.child_id = child_archives.child_id and followed.period_end >= child_archives.archive_date
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
        followed.child_id,
        followed.period,
        child_enrollments.enroll_date,
        child_enrollments.enrollment_record_key,
        child_enrollments.institution_code
    from followed
    inner join {{ ref('int_child_enrollments') }} as child_enrollments
        on
            followed.child_id = child_enrollments.child_id
            and followed.period_end >= child_enrollments.enroll_date
            and (child_enrollments.leave_date is null or followed.period_end < child_enrollments.leave_date)
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
        followed.child_id,
        followed.period,
        followed.recipient_code,
        children.birth_cert_key,
        children.id_key,
        latest_archives.own_archive_key,
        latest_archives.any_archive_key,
        latest_archives.any_archive_facility_code,
        {{ struct_field('current_enrollments.enrollment', 'institution_code') }} as institution_code
    from followed
    inner join {{ ref('stg_identity__children') }} as children on followed.child_id = children.child_id
    left join latest_archives
        on followed.child_id = latest_archives.child_id and followed.period = latest_archives.period
    left join current_enrollments
        on followed.child_id = current_enrollments.child_id and followed.period = current_enrollments.period
)

select
    child_id,
    period,
    case
        when own_archive_key is not null then 'archive_no'
        when birth_cert_key is not null then 'birth_cert_no'
        when id_key is not null then 'id_number'
        when any_archive_key is not null then 'archive_no'
        else 'none'
    end as handle_kind,
    coalesce(own_archive_key, birth_cert_key, id_key, any_archive_key) as handle_key,
    case
        when own_archive_key is not null then recipient_code
        when birth_cert_key is null and id_key is null then any_archive_facility_code
    end as handle_facility_code,
    institution_code
from handles
