{# Contract section 4: the date rules every indicator shares. #}

{# Whole months completed at on_date; one less when on_date's day of the month is smaller than
   the birth's, also at a month's end (born 31 May: 0 months on 30 June, 1 month on 1 July). #}
{% macro age_in_months(birth_date, on_date) -%}
    (
        (year({{ on_date }}) - year({{ birth_date }})) * 12
        + month({{ on_date }}) - month({{ birth_date }})
        - case when day({{ on_date }}) < day({{ birth_date }}) then 1 else 0 end
    )
{%- endmacro %}

{# "The year to D": D - 365 days < date <= D. #}
{% macro in_year_to(date_column, reference_date) -%}
    ({{ date_column }} > {{ reference_date }} - interval 365 day and {{ date_column }} <= {{ reference_date }})
{%- endmacro %}

{# "Operating at D" (institutions) and "employed at D" (staff): started on or before D and not
   ended on or before D. #}
{% macro active_at(start_column, end_column, reference_date) -%}
    ({{ start_column }} <= {{ reference_date }} and ({{ end_column }} is null or {{ end_column }} > {{ reference_date }}))
{%- endmacro %}
