-- The child-level records the indicators use, each with the child it belongs to. Identity
-- writes each record's date, community and closing beside its child, so this reads them
-- without joining the records back (at 3M children that join cost 26 s of 95): a view.
{{ config(materialized='view') }}

select
    child_key,
    record_key,
    source,
    record_date,
    community_code,
    closed_on,
    close_reason
from {{ ref('stg_identity__child_records') }}
where source in ('health_archives', 'births', 'health_checks')
