-- Children whose records disagree on birth date or on sex (identity flags them per child).
with counted as (
    select
        count(*) as children,
        count(*) filter (where birth_date_conflict) as birth_date_conflicts,
        count(*) filter (where sex_conflict) as sex_conflicts
    from {{ ref('stg_identity__children') }}
)

select
    children,
    birth_date_conflicts,
    sex_conflicts,
    cast(birth_date_conflicts as double) / nullif(children, 0) as birth_date_conflict_share,
    cast(sex_conflicts as double) / nullif(children, 0) as sex_conflict_share
from counted
