-- Change orders with the canonical trade they change: their own division, else (a commitment change
-- order without one) the division of their commitment's line with the largest original amount, ties
-- to the lowest line number. Change orders of pending names are left out.
with

commitment_divisions as (

    select distinct on (project_key, commitment_number)
        project_key,
        commitment_number,
        raw_division_name
    from {{ ref('stg_raw__commitments') }}
    order by
        project_key asc,
        commitment_number asc,
        original_amount_cents desc,
        line_number asc,
        source_file asc

),

orders as (

    select
        orders.project_key,
        orders.source_file,
        orders.line_number,
        orders.contract_number,
        orders.change_order_number,
        orders.is_prime,
        coalesce(orders.raw_division_name, commitment_divisions.raw_division_name) as raw_division_name,
        orders.created_date,
        orders.decision_date,
        orders.change_order_status,
        orders.amount_cents
    from {{ ref('stg_raw__change_orders') }} as orders
    left join commitment_divisions
        on commitment_divisions.project_key = orders.project_key
        and commitment_divisions.commitment_number = orders.contract_number
        and not orders.is_prime

)

select
    orders.project_key,
    mappings.canonical_code,
    orders.source_file,
    orders.line_number,
    orders.contract_number,
    orders.change_order_number,
    orders.is_prime,
    orders.created_date,
    orders.decision_date,
    orders.change_order_status,
    orders.amount_cents
from orders
inner join {{ ref('stg_taxonomy__trade_mappings') }} as mappings
    on mappings.project_key = orders.project_key
    and mappings.raw_division_name = orders.raw_division_name
where not mappings.is_pending
