-- Every record of a source counts under exactly one link method: a method the mart does not
-- know would leave its records out of the six columns.
select
    source,
    records
from {{ ref('linkage_quality') }}
where
    records
    != linked_by_id_number + linked_by_birth_cert + linked_by_archive_no
    + linked_by_demographics + ambiguous + unlinked
