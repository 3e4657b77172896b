-- Commitments and change orders per project, canonical trade and spine month, as of the month end
-- (a line or change order dated on or before it counts):
--   committed original: non-Void commitment lines executed by then;
--   approved: commitment change orders approved by then;
--   pending: commitment change orders created by then and not decided by then;
--   PRIME approved: change orders on the owner's GMP contract approved by then.
-- Nothing counts before a change order's created date, nor after its rejection or void.
-- Only project x trade x months with at least one such line or change order.
with

months as (

    select project_key, month_start, month_end
    from {{ ref('int_project_months') }}

),

facts as (

    select
        months.project_key,
        lines.canonical_code,
        months.month_start,
        lines.original_amount_cents as committed_original_cents,
        0 as approved_co_cents,
        0 as pending_co_cents,
        0 as prime_approved_co_cents
    from months
    inner join {{ ref('int_commitment_lines') }} as lines
        on lines.project_key = months.project_key
        and lines.executed_date <= months.month_end
    where not lines.is_void

    union all

    select
        months.project_key,
        orders.canonical_code,
        months.month_start,
        0 as committed_original_cents,
        case
            when
                not orders.is_prime and orders.change_order_status = 'Approved'
                and orders.decision_date <= months.month_end
                then orders.amount_cents
            else 0
        end as approved_co_cents,
        case
            when not orders.is_prime and (orders.decision_date is null or orders.decision_date > months.month_end)
                then orders.amount_cents
            else 0
        end as pending_co_cents,
        case
            when
                orders.is_prime and orders.change_order_status = 'Approved'
                and orders.decision_date <= months.month_end
                then orders.amount_cents
            else 0
        end as prime_approved_co_cents
    from months
    inner join {{ ref('int_change_orders') }} as orders
        on orders.project_key = months.project_key
        and orders.created_date <= months.month_end

)

select
    project_key,
    canonical_code,
    month_start,
    sum(committed_original_cents)::bigint as committed_original_cents,
    sum(approved_co_cents)::bigint as approved_co_cents,
    sum(pending_co_cents)::bigint as pending_co_cents,
    sum(prime_approved_co_cents)::bigint as prime_approved_co_cents
from facts
group by project_key, canonical_code, month_start
