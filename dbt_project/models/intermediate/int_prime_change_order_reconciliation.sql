-- Per project with PRIME change orders x canonical trade: the GMP breakdown's undated Approved
-- Changes against the PRIME change orders approved (final status, any decision date). The two
-- should agree; difference_cents = PRIME approved - breakdown Approved Changes.
with

prime_projects as (

    select project_key
    from {{ ref('int_project_commitments') }}
    where has_prime_change_orders

),

breakdown as (

    select budgets.project_key, budgets.canonical_code, budgets.approved_changes_cents
    from {{ ref('int_trade_budgets') }} as budgets
    inner join prime_projects
        on prime_projects.project_key = budgets.project_key

),

prime as (

    select
        project_key,
        canonical_code,
        count(*) as prime_change_order_count,
        coalesce(sum(amount_cents) filter (where change_order_status = 'Approved'), 0)::bigint as prime_approved_cents
    from {{ ref('int_change_orders') }}
    where is_prime
    group by project_key, canonical_code

),

trades as (

    select
        coalesce(breakdown.project_key, prime.project_key) as project_key,
        coalesce(breakdown.canonical_code, prime.canonical_code) as canonical_code,
        coalesce(breakdown.approved_changes_cents, 0) as breakdown_approved_changes_cents,
        coalesce(prime.prime_approved_cents, 0) as prime_approved_cents,
        coalesce(prime.prime_change_order_count, 0) as prime_change_order_count
    from breakdown
    full outer join prime
        on prime.project_key = breakdown.project_key
        and prime.canonical_code = breakdown.canonical_code

)

select
    project_key,
    canonical_code,
    breakdown_approved_changes_cents,
    prime_approved_cents,
    prime_change_order_count,
    prime_approved_cents - breakdown_approved_changes_cents as difference_cents
from trades
