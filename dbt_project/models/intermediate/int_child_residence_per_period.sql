-- Residence of each under-3 child at D (contract section 3): the community of the latest
-- archive dated <= D that names one, else the birth record's community. Status:
-- `closed` (latest archive dated <= D closed <= D as moved_out/died: out of every scope),
-- `outside_district` (community not in the divisions: out of every scope),
-- `unknown` (no community: district scope only), `resident`.
-- "Latest dated <= D" is an ASOF join on DuckDB (one archive per child and D, no fan-out over
-- the child's archives; macros/portable/rows.sql); of two archives of one child on one date the
-- greater record_key counts.
-- Each archive date carries the community of the latest naming archive up to that date, so one
-- ASOF join finds both the latest archive and the latest naming one (cheaper than a second
-- ASOF join over the children and periods). Archived by D (an
-- archive dated <= D) comes from the same ASOF join. The archives are read once (one grouping
-- per child and date), the birth record's community comes with the child (identity).
-- A view, as the schedule (int_child_schedule_per_period): the facts read it once.
{{ config(materialized='view') }}
with archives_per_date as (
    select
        child_id,
        record_date,
        -- the latest archive of the date (structs compare field by field: record_key first)
        max({{ pack_struct(['record_key', 'closed_on', 'close_reason']) }}) as last_archive,
        -- the filter drops the nulls, which Spark's max_by would keep (DuckDB's skips them)
        max_by(community_code, record_key) filter (where community_code is not null) as naming_community
    from {{ ref('int_child_linked_records') }}
    where source = 'health_archives'
    group by child_id, record_date
),

dated_archives as (
    select
        child_id,
        record_date,
        {{ struct_field('last_archive', 'closed_on') }} as closed_on,
        {{ struct_field('last_archive', 'close_reason') }} as close_reason,
        {{ last_value_ignoring_nulls('naming_community') }} over (
            partition by child_id
            order by record_date
            rows between unbounded preceding and current row
        ) as community_code
    from archives_per_date
),

placed as (
    select
        children.child_id,
        children.period,
        latest.child_id is not null as is_archived,
        coalesce(
            latest.closed_on <= children.period_end and latest.close_reason in ('moved_out', 'died'), false
        ) as is_closed,
        coalesce(latest.community_code, births.birth_community_code) as community_code
    from {{ ref('int_under_three_children_per_period') }} as children
    {{ asof_left_join(
        ref('int_under_three_children_per_period'), 'children', 'dated_archives', 'latest',
        'child_id', 'period_end', 'record_date'
    ) }}
    left join {{ ref('stg_identity__children') }} as births on children.child_id = births.child_id
)

select
    placed.child_id,
    placed.period,
    divisions.community_code,
    divisions.street_code,
    case
        when placed.is_closed then 'closed'
        when placed.community_code is null then 'unknown'
        when divisions.community_code is null then 'outside_district'
        else 'resident'
    end as residence_status,
    placed.is_archived
from placed
left join {{ ref('stg_ingested__divisions') }} as divisions
    on placed.community_code = divisions.community_code
