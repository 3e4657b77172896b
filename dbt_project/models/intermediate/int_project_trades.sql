-- Canonical trades of each project: those with a mapped budget line or a mapped cost.
with

trades as (

    select project_key, canonical_code, true as has_budget, false as has_cost
    from {{ ref('int_trade_budgets') }}

    union all

    select distinct project_key, canonical_code, false as has_budget, true as has_cost
    from {{ ref('int_trade_monthly_costs') }}

)

select
    project_key,
    canonical_code,
    bool_or(has_budget) as has_budget,
    bool_or(has_cost) as has_cost
from trades
group by project_key, canonical_code
