-- Calendar quarters from the quarter holding the settings' `period_start` through the quarter
-- holding the as-of date; the reference date D is the quarter's last day, or the as-of date for
-- the last.
with bounds as (
    select
        as_of_dates.as_of_date,
        cast(date_trunc('quarter', run_settings.period_start) as date) as first_quarter
    from {{ ref('int_as_of_date') }} as as_of_dates
    cross join {{ ref('stg_meta__run_settings') }} as run_settings
),

quarter_starts as (
    select
        as_of_date,
        {{ month_series('first_quarter', 'as_of_date', 3) }} as quarter_start
    from bounds
),

quarters as (
    select
        as_of_date,
        cast(quarter_start as date) as period_start
    from quarter_starts
)

select
    period_start,
    cast(year(period_start) as string) || 'Q' || cast(quarter(period_start) as string) as period,
    cast(least(period_start + interval 3 month - interval 1 day, as_of_date) as date) as period_end
from quarters
