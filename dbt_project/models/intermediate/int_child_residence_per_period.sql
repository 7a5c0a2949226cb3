-- Residence of each under-3 child at D (contract section 3): the community of the latest
-- archive dated <= D that names one, else the birth record's community. Status:
-- `closed` (latest archive dated <= D closed <= D as moved_out/died: out of every scope),
-- `outside_district` (community not in the divisions: out of every scope),
-- `unknown` (no community: district scope only), `resident`.
-- "Latest dated <= D" is an ASOF join (one archive per child and D, no fan-out over the
-- child's archives); of two archives of one child on one date the greater record_key counts.
-- Each archive date carries the community of the latest naming archive up to that date, so one
-- ASOF join finds both the latest archive and the latest naming one (a second ASOF join over
-- the children and periods cost more than this window over the archives). Archived by D (an
-- archive dated <= D) comes from the same ASOF join.
with archives as (
    select
        child_key,
        record_date,
        closed_on,
        close_reason
    from {{ ref('int_child_linked_records') }}
    where source = 'health_archives'
    qualify
        row_number() over (
            partition by child_key, record_date
            order by record_key desc
        ) = 1
),

naming_archives as (
    select
        child_key,
        record_date,
        community_code
    from {{ ref('int_child_linked_records') }}
    where source = 'health_archives' and community_code is not null
    qualify
        row_number() over (
            partition by child_key, record_date
            order by record_key desc
        ) = 1
),

dated_archives as (
    select
        archives.child_key,
        archives.record_date,
        archives.closed_on,
        archives.close_reason,
        last_value(naming_archives.community_code ignore nulls) over (
            partition by archives.child_key
            order by archives.record_date
            rows between unbounded preceding and current row
        ) as community_code
    from archives
    -- a naming archive is an archive: each of its dates is one of archives'
    left join naming_archives
        on archives.child_key = naming_archives.child_key and archives.record_date = naming_archives.record_date
),

birth_communities as (
    select
        child_key,
        min(community_code) as community_code
    from {{ ref('int_child_linked_records') }}
    where source = 'births' and community_code is not null
    group by child_key
),

placed as (
    select
        children.child_key,
        children.period,
        latest.child_key is not null as is_archived,
        coalesce(
            latest.closed_on <= children.period_end and latest.close_reason in ('moved_out', 'died'), false
        ) as is_closed,
        coalesce(latest.community_code, birth_communities.community_code) as community_code
    from {{ ref('int_under_three_children_per_period') }} as children
    asof left join dated_archives as latest
        on children.child_key = latest.child_key and children.period_end >= latest.record_date
    left join birth_communities on children.child_key = birth_communities.child_key
)

select
    placed.child_key,
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
