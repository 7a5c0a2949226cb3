-- Calendar quarters from the quarter holding `period_start` through the quarter holding the
-- as-of date; the reference date D is the quarter's last day, or the as-of date for the last.
with bounds as (
    select
        as_of_date,
        date_trunc('quarter', cast('{{ var("period_start") }}' as date)) as first_quarter
    from {{ ref('int_as_of_date') }}
),

quarters as (
    select
        bounds.as_of_date,
        cast(quarter_start.generate_series as date) as period_start
    from bounds,
        generate_series(bounds.first_quarter, bounds.as_of_date, interval 3 month) as quarter_start
)

select
    period_start,
    cast(year(period_start) as varchar) || 'Q' || cast(quarter(period_start) as varchar) as period,
    cast(least(period_start + interval 3 month - interval 1 day, as_of_date) as date) as period_end
from quarters
