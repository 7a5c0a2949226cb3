-- The as-of date: the `as_of` var, else the latest event date in the loaded data (births,
-- archives, checks, enrollments, surveys; register dates are not events; a date after today is
-- an error, not the latest event). The refs stay unconditional so the dependency graph does
-- not change with the vars.
{% set as_of = var('as_of', none) %}
with event_dates as (
    select max(birth_date) filter (where birth_date <= current_date) as event_date
    from {{ ref('stg_ingested__births') }}
    union all
    select max(archive_date) filter (where archive_date <= current_date)
    from {{ ref('stg_ingested__health_archives') }}
    union all
    select max(check_date) filter (where check_date <= current_date)
    from {{ ref('stg_ingested__health_checks') }}
    union all
    select max(enroll_date) filter (where enroll_date <= current_date)
    from {{ ref('stg_ingested__enrollments') }}
    union all
    select max(survey_date) filter (where survey_date <= current_date)
    from {{ ref('stg_ingested__parenting_surveys') }}
),

latest as (
    select max(event_date) as latest_event_date from event_dates
)

select
    {% if as_of %}cast('{{ as_of }}' as date){% else %}latest_event_date{% endif %} as as_of_date
from latest
