-- Each child's birth certificate and own ID number (keyed hashes) a handle can come from: the
-- best source's, in identity's order of sources (births, archives, enrollments, checks), then
-- the smaller key, so that the choice is stable.
-- A view: int_child_follow_up_per_period reads it once.
{{ config(materialized='view') }}
with keyed as (
    select
        records.child_id,
        case handles.source
            when 'births' then 1
            when 'health_archives' then 2
            when 'enrollments' then 3
            else 4
        end as source_rank,
        handles.birth_cert_key,
        handles.id_key
    from {{ ref('stg_ingested__child_handle_keys') }} as handles
    inner join {{ ref('stg_identity__child_records') }} as records
        on handles.source = records.source and handles.record_key = records.record_key
    where handles.birth_cert_key is not null or handles.id_key is not null
),

best as (
    select
        child_id,
        min({{ pack_struct(['source_rank', 'birth_cert_key']) }}) filter (
            where birth_cert_key is not null
        ) as best_birth_cert,
        min({{ pack_struct(['source_rank', 'id_key']) }}) filter (where id_key is not null) as best_id
    from keyed
    group by child_id
)

select
    child_id,
    {{ struct_field('best_birth_cert', 'birth_cert_key') }} as birth_cert_key,
    {{ struct_field('best_id', 'id_key') }} as id_key
from best
