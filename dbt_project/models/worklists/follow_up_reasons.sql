-- The four follow-up reasons (contract section 8), each the gap of one indicator: one place
-- for their codes, Chinese names, definitions and recipients (the rows, the backlog, the export).
{% set reasons = [
    ('no_archive', '未建档', 'record_filing_rate', 'health_facility',
        '满1月龄的3岁以下儿童，参考日前无健康档案'),
    ('no_check_in_year', '近一年未体检', 'health_management_rate', 'health_facility',
        '3岁以下儿童，参考日前一年内无健康检查'),
    ('behind_schedule', '未按4:2:2系统管理', 'systematic_management_rate', 'health_facility',
        '3岁以下儿童，已做体检次数少于4:2:2应检次数'),
    ('enrolled_without_entry_check', '入托前未体检', 'enrollment_check_rate', 'institution',
        '本季度入托，入托日前90天至入托日无健康检查'),
] %}
{% for reason, reason_zh, indicator_code, recipient_type, definition_zh in reasons %}
    select
        '{{ reason }}' as reason,
        '{{ reason_zh }}' as reason_zh,
        '{{ indicator_code }}' as indicator_code,
        '{{ recipient_type }}' as recipient_type,
        '{{ definition_zh }}' as definition_zh,
        {{ loop.index }} as reason_order
    {%- if not loop.last %}
        union all
    {%- endif %}
{% endfor %}
