{# Numerator and denominator of one indicator at district, street and community scope from a
   relation with one row per counted unit and period, carrying the unit's `street_code` and
   `community_code` (null when the unit cannot be placed: it then counts at district scope
   only). Scopes without rows are filled with zeros by marts.indicator_values. `levels`
   limits the scope levels produced (units counted differently per level). The district's code
   comes from the run's settings (stg_meta__run_settings), as data. #}
{% macro rollup_to_scopes(relation, indicator_code, numerator, denominator='null', levels=['district', 'street', 'community']) %}
    {%- set scopes = [] %}
    {%- for level, code in [('district', 'district.district_code'), ('street', 'street_code'), ('community', 'community_code')] %}
        {%- if level in levels %}{% do scopes.append((level, code)) %}{% endif %}
    {%- endfor %}
    {%- for level, code in scopes %}
        select
            '{{ indicator_code }}' as indicator_code,
            period,
            '{{ level }}' as scope_level,
            {{ code }} as scope_code,
            cast({{ numerator }} as bigint) as numerator,
            cast({{ denominator }} as bigint) as denominator
        from {{ relation }}
        {%- if level == 'district' %}
            {#- Only the code: no other settings column may shadow one of the relation's. #}
            cross join (select district_code from {{ ref('stg_meta__run_settings') }}) as district
        {%- else %}
            where {{ code }} is not null
        {%- endif %}
        group by period, {{ code }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
{% endmacro %}

{# Whether a value meets a plan target; null when the value is null. #}
{% macro meets_target(value, comparator, target) -%}
    case {{ comparator }}
        when '>=' then {{ value }} >= {{ target }}
        when '>' then {{ value }} > {{ target }}
        when '<=' then {{ value }} <= {{ target }}
        when '<' then {{ value }} < {{ target }}
        when '=' then {{ value }} = {{ target }}
    end
{%- endmacro %}
