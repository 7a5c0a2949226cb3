-- Numerator and denominator of every indicator per period and scope where anything was
-- counted (contract section 5). marts.indicator_values fills the empty scopes.
{{ rollup_to_scopes(ref('int_child_indicator_facts_per_period'), 'record_filing_rate',
    'count(*) filter (where is_one_month_or_older and is_archived)',
    'count(*) filter (where is_one_month_or_older)') }}
union all
{{ rollup_to_scopes(ref('int_child_indicator_facts_per_period'), 'health_management_rate',
    'count(*) filter (where is_checked_in_year)', 'count(*)') }}
union all
{{ rollup_to_scopes(ref('int_child_indicator_facts_per_period'), 'systematic_management_rate',
    'count(*) filter (where is_on_schedule)', 'count(*)') }}
union all
{{ rollup_to_scopes(ref('int_enrollments_in_period'), 'enrollment_check_rate',
    'count(*) filter (where had_check)', 'count(*)') }}
union all
{{ rollup_to_scopes(ref('int_operating_institutions_per_period'), 'affordable_slot_share',
    'coalesce(sum(slots) filter (where is_affordable_at_d), 0)', 'sum(slots)') }}
union all
{{ rollup_to_scopes(ref('int_slot_supply_per_period'), 'slots_per_community',
    'sum(slots)', 'sum(communities)') }}
union all
{{ rollup_to_scopes(ref('int_street_services_per_period'), 'street_coverage',
    'count(*) filter (where has_affordable_slots)', 'count(*)', levels=['district', 'street']) }}
union all
{{ rollup_to_scopes(ref('int_community_services_per_period'), 'street_coverage',
    'count(*) filter (where has_affordable_slots)', 'count(*)', levels=['community']) }}
union all
{{ rollup_to_scopes(ref('int_street_services_per_period'), 'station_street_coverage',
    'count(*) filter (where has_care_station)', 'count(*)', levels=['district', 'street']) }}
union all
{{ rollup_to_scopes(ref('int_community_services_per_period'), 'station_street_coverage',
    'count(*) filter (where has_care_station)', 'count(*)', levels=['community']) }}
union all
{{ rollup_to_scopes(ref('int_operating_institutions_per_period'), 'provincial_standard_stations',
    'count(*) filter (where is_care_station and has_provincial_standard)') }}
union all
{{ rollup_to_scopes(ref('int_three_in_one_centres_per_period'), 'three_in_one_centers', 'count(*)') }}
union all
{{ rollup_to_scopes(ref('int_employed_staff_per_period'), 'staff_certification_rate',
    'count(distinct staff_key) filter (where is_certified)', 'count(distinct staff_key)') }}
union all
{{ rollup_to_scopes(ref('int_surveys_in_year_per_period'), 'parenting_knowledge_rate',
    'count(*) filter (where passed)', 'count(*)') }}
