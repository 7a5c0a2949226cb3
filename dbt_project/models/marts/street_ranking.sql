-- One row per street and period (contract section 6): targets met out of those applicable and
-- the mean change since the first period of the ratio targets, ranked within the period.
with per_street as (
    select
        assessment.street_code,
        assessment.street_name,
        assessment.period,
        count(*) as targets_applicable,
        sum(case when assessment.met then 1 else 0 end) as targets_met,
        -- Rounded so that equal changes reached through different fractions tie.
        round(avg(case when definitions.unit = 'ratio' then assessment.change end) * 100, 9)
            as mean_change_pp
    from {{ ref('street_assessment') }} as assessment
    inner join {{ ref('indicator_definitions') }} as definitions
        on assessment.indicator_code = definitions.code
    group by assessment.street_code, assessment.street_name, assessment.period
)

select
    cast(street_code as string) as street_code,
    cast(street_name as string) as street_name,
    cast(period as string) as period,
    cast(targets_applicable as integer) as targets_applicable,
    cast(targets_met as integer) as targets_met,
    cast(mean_change_pp as double) as mean_change_pp,
    cast(
        row_number() over (
            partition by period
            order by targets_met desc, mean_change_pp desc nulls last, street_code asc
        ) as integer
    ) as rank
from per_street
