-- The health centre responsible under 属地管理 (contract section 8) for a child living in each
-- community of the divisions, and for a child whose residence is unknown (community null):
-- the centre whose catchment holds the community (the lower facility code when two list it),
-- else the only community health centre of the street, else the district's only maternal and
-- child health hospital, else `unassigned`. Residence alone varies with D: the rule does not.
with facilities as (
    select
        recipient_code as facility_code,
        recipient_name as facility_name,
        facility_type,
        street_code
    from {{ ref('stg_ingested__follow_up_recipients') }}
    where recipient_type = 'health_facility'
),

catchment_centres as (
    select
        community_code,
        min(facility_code) as facility_code
    from {{ ref('stg_ingested__catchments') }}
    group by community_code
),

street_centres as (
    select
        street_code,
        min(facility_code) as facility_code,
        count(*) as centres
    from facilities
    where facility_type = 'community_health_center'
    group by street_code
),

district_hospitals as (
    select
        min(facility_code) as facility_code,
        count(*) as hospitals
    from facilities
    where facility_type = 'maternal_child_hospital'
),

residences as (
    select
        community_code,
        street_code
    from {{ ref('stg_ingested__divisions') }}
    union all
    select
        cast(null as string) as community_code,
        cast(null as string) as street_code
),

chosen as (
    select
        residences.community_code,
        residences.street_code,
        case
            when catchment_centres.facility_code is not null then 'catchment'
            when street_centres.centres = 1 then 'street_centre'
            when district_hospitals.hospitals = 1 then 'district_hospital'
            else 'unassigned'
        end as assigned_by,
        coalesce(
            catchment_centres.facility_code,
            case when street_centres.centres = 1 then street_centres.facility_code end,
            case when district_hospitals.hospitals = 1 then district_hospitals.facility_code end
        ) as facility_code
    from residences
    cross join district_hospitals
    left join catchment_centres on residences.community_code = catchment_centres.community_code
    left join street_centres on residences.street_code = street_centres.street_code
)

select
    chosen.community_code,
    chosen.street_code,
    chosen.assigned_by,
    case when chosen.facility_code is null then 'unassigned' else 'health_facility' end as recipient_type,
    coalesce(chosen.facility_code, 'unassigned') as recipient_code,
    case
        when chosen.facility_code is null then '未分配'
        else coalesce(facilities.facility_name, chosen.facility_code)
    end as recipient_name,
    facilities.facility_type as recipient_facility_type
from chosen
left join facilities on chosen.facility_code = facilities.facility_code
