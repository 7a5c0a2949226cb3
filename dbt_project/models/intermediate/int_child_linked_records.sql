-- The child-level records the indicators use, each with the child it belongs to (identity).
select
    child_records.child_key,
    archives.archive_record_key as record_key,
    'health_archives' as source,
    archives.archive_date as record_date,
    archives.community_code,
    archives.closed_on,
    archives.close_reason
from {{ ref('stg_ingested__health_archives') }} as archives
inner join {{ ref('stg_identity__child_records') }} as child_records
    on child_records.source = 'health_archives' and child_records.record_key = archives.archive_record_key
union all
select
    child_records.child_key,
    births.birth_record_key as record_key,
    'births' as source,
    births.birth_date as record_date,
    births.community_code,
    null as closed_on,
    null as close_reason
from {{ ref('stg_ingested__births') }} as births
inner join {{ ref('stg_identity__child_records') }} as child_records
    on child_records.source = 'births' and child_records.record_key = births.birth_record_key
union all
select
    child_records.child_key,
    checks.check_record_key as record_key,
    'health_checks' as source,
    checks.check_date as record_date,
    null as community_code,
    null as closed_on,
    null as close_reason
from {{ ref('stg_ingested__health_checks') }} as checks
inner join {{ ref('stg_identity__child_records') }} as child_records
    on child_records.source = 'health_checks' and child_records.record_key = checks.check_record_key
