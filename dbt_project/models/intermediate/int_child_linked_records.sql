-- The child-level records the indicators use, each with the child it belongs to, date,
-- community and closing (identity.child_records). A view: each model reads the records it
-- needs once (cheaper than writing every record as a table).
{{ config(materialized='view') }}

select
    child_id,
    record_key,
    source,
    record_date,
    community_code,
    closed_on,
    close_reason
from {{ ref('stg_identity__child_records') }}
where source in ('health_archives', 'births', 'health_checks')
