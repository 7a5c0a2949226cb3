-- Per child-level source: how its records were linked into children (contract sections 3, 6),
-- counted from identity's class map; every source has a row, also one without records.
with methods as (
    select
        src,
        sum(records) as records,
        sum(records) filter (where link_method = 'id_number') as linked_by_id_number,
        sum(records) filter (where link_method = 'birth_cert') as linked_by_birth_cert,
        sum(records) filter (where link_method = 'archive_no') as linked_by_archive_no,
        sum(records) filter (where link_method = 'demographics') as linked_by_demographics,
        sum(records) filter (where link_method = 'ambiguous') as ambiguous,
        sum(records) filter (where link_method = 'none') as unlinked
    from {{ ref('stg_identity__record_classes') }}
    group by src
),

-- a record is in conflict when its child is: the children count theirs per source
conflicts as (
    select
        source,
        sum(records) as conflicts
    from {{ ref('int_child_source_records') }}
    where has_conflict
    group by source
)

select
    sources.source,
    cast(coalesce(methods.records, 0) as bigint) as records,
    cast(coalesce(methods.linked_by_id_number, 0) as bigint) as linked_by_id_number,
    cast(coalesce(methods.linked_by_birth_cert, 0) as bigint) as linked_by_birth_cert,
    cast(coalesce(methods.linked_by_archive_no, 0) as bigint) as linked_by_archive_no,
    cast(coalesce(methods.linked_by_demographics, 0) as bigint) as linked_by_demographics,
    cast(coalesce(methods.ambiguous, 0) as bigint) as ambiguous,
    cast(coalesce(methods.unlinked, 0) as bigint) as unlinked,
    cast(coalesce(conflicts.conflicts, 0) as bigint) as conflicts
from {{ ref('stg_identity__sources') }} as sources
left join methods on sources.src = methods.src
left join conflicts on sources.source = conflicts.source
