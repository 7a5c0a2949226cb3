select
    cast(survey_no as varchar) as survey_no,
    cast(community_code as varchar) as community_code,
    cast(survey_date as date) as survey_date,
    cast(passed as boolean) as passed
from {{ source('ingested', 'parenting_surveys') }}
