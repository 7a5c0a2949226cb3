-- One row per indicator (contract section 6): the indicators seed, with the plan's target and
-- comparator (seed plan_targets) and the Chinese labels of its sources (seed source_systems).
with listed_sources as (
    select
        code,
        {{ split_with_position('sources', ',', 'source', 'source_position') }}
    from {{ ref('indicator_definitions') }}
),

labelled_sources as (
    select
        listed_sources.code,
        {{ ordered_string_agg('systems.label_zh', "'、'", 'listed_sources.source_position') }} as sources_zh
    from listed_sources
    left join {{ ref('source_systems') }} as systems on listed_sources.source = systems.source
    group by listed_sources.code
)

select
    cast(indicators.code as string) as indicator_code,
    cast(indicators.name_zh as string) as name_zh,
    cast(indicators.numerator_zh as string) as numerator_zh,
    cast(indicators.denominator_zh as string) as denominator_zh,
    cast(indicators.unit as string) as unit,
    cast(indicators.scope_levels as string) as scope_levels,
    cast(labelled_sources.sources_zh as string) as sources_zh,
    cast(targets.target as double) as target,
    cast(targets.comparator as string) as comparator,
    cast(indicators.sources as string) as sources,
    cast(indicators.counts_people as boolean) as counts_people,
    cast(indicators.target_zh as string) as target_zh,
    cast(targets.target_zh as string) as plan_target_zh,
    cast(indicators.numerator_definition as string) as numerator_definition,
    cast(indicators.denominator_definition as string) as denominator_definition,
    cast(indicators.scope_rule as string) as scope_rule,
    cast(indicators.plan_order as integer) as plan_order
from {{ ref('indicator_definitions') }} as indicators
left join labelled_sources on indicators.code = labelled_sources.code
left join {{ ref('plan_targets') }} as targets on indicators.code = targets.indicator_code
