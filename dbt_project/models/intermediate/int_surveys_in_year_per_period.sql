-- Parenting-knowledge surveys in the year to each D, placed at their community (one the
-- divisions do not know counts at district scope only).
select
    periods.period,
    surveys.survey_no,
    divisions.street_code,
    divisions.community_code,
    surveys.passed
from {{ ref('stg_ingested__parenting_surveys') }} as surveys
inner join {{ ref('int_periods') }} as periods
    on {{ in_year_to('surveys.survey_date', 'periods.period_end') }}
left join {{ ref('stg_ingested__divisions') }} as divisions
    on divisions.community_code = surveys.community_code
