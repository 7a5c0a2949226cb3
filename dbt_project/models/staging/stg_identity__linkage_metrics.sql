select
    cast(source as varchar) as source,
    cast(records as bigint) as records,
    cast(linked_by_id_number as bigint) as linked_by_id_number,
    cast(linked_by_birth_cert as bigint) as linked_by_birth_cert,
    cast(linked_by_archive_no as bigint) as linked_by_archive_no,
    cast(linked_by_demographics as bigint) as linked_by_demographics,
    cast(ambiguous as bigint) as ambiguous,
    cast(unlinked as bigint) as unlinked,
    cast(conflicts as bigint) as conflicts
from {{ source('identity', 'linkage_metrics') }}
