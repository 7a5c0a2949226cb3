-- One row per under-3 child in scope and period with at least one follow-up reason (contract
-- section 8), from the same facts as the child indicators: the reasons and the centre
-- responsible at the child's residence. What a row shows (its handle) is in
-- int_child_follow_up_handles_per_period, which only the export reads.
-- A view: follow_up_cases and the handles read it (cheaper than writing every child and period).
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
)

select
    gaps.child_id,
    gaps.period,
    periods.period_end,
    gaps.street_code,
    gaps.community_code,
    gaps.is_without_archive,
    gaps.is_without_check_in_year,
    gaps.is_behind_schedule,
    gaps.checks_due,
    gaps.checks_done,
    centres.recipient_type,
    centres.recipient_code,
    centres.recipient_name,
    centres.recipient_facility_type
from gaps
inner join {{ ref('int_periods') }} as periods on gaps.period = periods.period
left join {{ ref('int_responsible_centre_per_community') }} as centres
    on gaps.community_code is not distinct from centres.community_code
