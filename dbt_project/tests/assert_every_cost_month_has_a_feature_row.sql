-- Every month with mapped costs has a non-backfill feature row (costs dated before the project's
-- start month land in the start month): no cost falls outside the month spine.
-- Only the months in the vars' scope are checked.
with

cost_months as (

    select
        costs.project_key,
        costs.canonical_code,
        greatest(costs.month_start, timelines.start_month) as month_start
    from {{ ref('int_trade_monthly_costs') }} as costs
    inner join {{ ref('int_project_timelines') }} as timelines
        on timelines.project_key = costs.project_key

)

select cost_months.*
from cost_months
left join {{ ref('canonical_cost_features') }} as features
    on features.project_key = cost_months.project_key
    and features.canonical_code = cost_months.canonical_code
    and features.month_start = cost_months.month_start
where
    {{ scope_predicate('cost_months.project_key', 'cost_months.month_start') }}
    and (features.project_key is null or features.is_backfill)
