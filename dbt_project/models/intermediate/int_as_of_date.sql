-- The as-of date: the settings' `as_of`, else the latest event date in the loaded data (births,
-- archives, checks, enrollments, surveys; register dates are not events; a date after the
-- settings' today is an error, not the latest event).
with run_settings as (
    select
        as_of,
        today
    from {{ ref('stg_meta__run_settings') }}
),

event_dates as (
    select max(births.birth_date) as event_date
    from {{ ref('stg_ingested__births') }} as births
    inner join run_settings on births.birth_date <= run_settings.today
    union all
    select max(archives.archive_date)
    from {{ ref('stg_ingested__health_archives') }} as archives
    inner join run_settings on archives.archive_date <= run_settings.today
    union all
    select max(checks.check_date)
    from {{ ref('stg_ingested__health_checks') }} as checks
    inner join run_settings on checks.check_date <= run_settings.today
    union all
    select max(enrollments.enroll_date)
    from {{ ref('stg_ingested__enrollments') }} as enrollments
    inner join run_settings on enrollments.enroll_date <= run_settings.today
    union all
    select max(surveys.survey_date)
    from {{ ref('stg_ingested__parenting_surveys') }} as surveys
    inner join run_settings on surveys.survey_date <= run_settings.today
),

latest as (
    select max(event_date) as latest_event_date from event_dates
)

select coalesce(run_settings.as_of, latest.latest_event_date) as as_of_date
from latest
cross join run_settings
