-- Each child's distinct check dates, one list per child: the checks are read once, for the
-- 4:2:2 schedule and for the enrollments' check before entry. The duplicates are dropped per
-- list, which spares a second grouping of all checks by (child, date).
select
    child_id,
    {{ sorted_distinct_list('record_date') }} as check_dates
from {{ ref('int_child_linked_records') }}
where source = 'health_checks'
group by child_id
