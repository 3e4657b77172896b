-- Per project with PRIME change orders x canonical trade: the GMP breakdown's undated Approved
-- Changes against the PRIME change orders approved (final status, any decision date). The two
-- should agree; difference_cents = PRIME approved - breakdown Approved Changes.
-- While a division name of either side waits in the review queue its trade is unknown, so the
-- project is compared whole: one row with a null canonical_code and the two totals.
with

prime_projects as (

    select project_key
    from {{ ref('int_project_commitments') }}
    where has_prime_change_orders

),

named as (

    select project_key, raw_division_name
    from {{ ref('stg_raw__gmp_breakdown') }}
    union
    select project_key, raw_division_name
    from {{ ref('stg_raw__change_orders') }}
    where is_prime

),

awaiting_review as (

    select distinct named.project_key
    from named
    inner join prime_projects
        on prime_projects.project_key = named.project_key
    left join {{ ref('stg_taxonomy__trade_mappings') }} as mappings
        on mappings.project_key = named.project_key
        and mappings.raw_division_name = named.raw_division_name
    where mappings.project_key is null or mappings.is_pending

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

),

whole_projects as (

    select
        awaiting_review.project_key,
        null::text as canonical_code,
        coalesce((
            select sum(lines.approved_changes_cents)
            from {{ ref('stg_raw__gmp_breakdown') }} as lines
            where lines.project_key = awaiting_review.project_key
        ), 0)::bigint as breakdown_approved_changes_cents,
        coalesce((
            select sum(orders.amount_cents) filter (where orders.change_order_status = 'Approved')
            from {{ ref('stg_raw__change_orders') }} as orders
            where orders.project_key = awaiting_review.project_key and orders.is_prime
        ), 0)::bigint as prime_approved_cents,
        (
            select count(*)
            from {{ ref('stg_raw__change_orders') }} as orders
            where orders.project_key = awaiting_review.project_key and orders.is_prime
        ) as prime_change_order_count
    from awaiting_review

),

compared as (

    select trades.*
    from trades
    where trades.project_key not in (select awaiting_review.project_key from awaiting_review)
    union all
    select * from whole_projects

)

select
    project_key,
    canonical_code,
    breakdown_approved_changes_cents,
    prime_approved_cents,
    prime_change_order_count,
    prime_approved_cents - breakdown_approved_changes_cents as difference_cents
from compared
