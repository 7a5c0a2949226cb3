-- The enrolled children (with an enrollment record) and those of them without a health archive.
-- `share` is the column the expectations name (noqa: RF04).
select
    count(*) as enrolled_children,
    count(*) filter (where not has_archive) as without_archive,
    cast(count(*) filter (where not has_archive) as double) / nullif(count(*), 0) as share  -- noqa: RF04
from {{ ref('int_child_source_records') }}
where source = 'enrollments'
