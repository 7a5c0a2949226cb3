select
    cast(survey_no as string) as survey_no,
    cast(community_code as string) as community_code,
    cast(survey_date as date) as survey_date,
    cast(passed as boolean) as passed
from {{ source('ingested', 'parenting_surveys') }}
