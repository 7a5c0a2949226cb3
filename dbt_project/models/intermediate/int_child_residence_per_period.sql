-- Residence of each under-3 child at D (contract section 3): the community of the latest
-- archive dated <= D that names one, else the birth record's community. Status:
-- `closed` (latest archive dated <= D closed <= D as moved_out/died: out of every scope),
-- `outside_district` (community not in the divisions: out of every scope),
-- `unknown` (no community: district scope only), `resident`.
with archives_to_date as (
    select
        children.child_key,
        children.period,
        archives.community_code,
        archives.closed_on <= children.period_end
        and archives.close_reason in ('moved_out', 'died') as is_closed,
        row_number() over (
            partition by children.child_key, children.period
            order by archives.record_date desc, archives.record_key desc
        ) as recency,
        row_number() over (
            partition by children.child_key, children.period, archives.community_code is null
            order by archives.record_date desc, archives.record_key desc
        ) as recency_among_same_naming
    from {{ ref('int_under_three_children_per_period') }} as children
    inner join {{ ref('int_child_linked_records') }} as archives
        on
            archives.child_key = children.child_key
            and archives.source = 'health_archives'
            and archives.record_date <= children.period_end
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
        coalesce(latest.is_closed, false) as is_closed,
        coalesce(latest_named.community_code, birth_communities.community_code) as community_code
    from {{ ref('int_under_three_children_per_period') }} as children
    left join archives_to_date as latest
        on latest.child_key = children.child_key and latest.period = children.period and latest.recency = 1
    left join archives_to_date as latest_named
        on
            latest_named.child_key = children.child_key
            and latest_named.period = children.period
            and latest_named.community_code is not null
            and latest_named.recency_among_same_naming = 1
    left join birth_communities on birth_communities.child_key = children.child_key
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
    end as residence_status
from placed
left join {{ ref('stg_ingested__divisions') }} as divisions
    on divisions.community_code = placed.community_code
