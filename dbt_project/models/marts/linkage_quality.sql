-- Per child-level source: how its records were linked into children (contract sections 3, 6).
-- Types are set in staging; the mart publishes the columns under its enforced contract.
select
    source,
    records,
    linked_by_id_number,
    linked_by_birth_cert,
    linked_by_archive_no,
    linked_by_demographics,
    ambiguous,
    unlinked,
    conflicts
from {{ ref('stg_identity__linkage_metrics') }}
