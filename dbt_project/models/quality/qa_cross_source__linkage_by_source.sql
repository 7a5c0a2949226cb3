-- Per child-level source with records: its records and those whose child also has records in
-- another source (linked).
select
    source,
    cast(sum(records) as bigint) as records,
    cast(coalesce(sum(records) filter (where n_sources > 1), 0) as bigint) as linked_records,
    cast(coalesce(sum(records) filter (where n_sources > 1), 0) as double) / sum(records) as linked_share
from {{ ref('int_child_source_records') }}
group by source
