-- The follow-up backlog (contract section 8): the cases of the worklists counted per period,
-- recipient and reason. Aggregates only; the rows themselves are never published.
select
    cast(period as string) as period,
    cast(recipient_code as string) as recipient_code,
    cast(recipient_name as string) as recipient_name,
    cast(recipient_type as string) as recipient_type,
    cast(reason as string) as reason,
    cast(count(*) as bigint) as children
from {{ ref('follow_up_cases') }}
group by period, recipient_code, recipient_name, recipient_type, reason
