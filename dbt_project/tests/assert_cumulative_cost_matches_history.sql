-- Every feature row's cumulative cost equals all the trade's mapped costs dated up to its month,
-- recomputed here from the full history (so a month-scoped rebuild must not truncate it).
-- Only the rows in the vars' scope are checked: the ones the last run rebuilt.
select
    features.project_key,
    features.canonical_code,
    features.month_start,
    features.cumulative_cost_cents,
    coalesce(sum(costs.cost_cents), 0) as expected_cumulative_cost_cents
from {{ ref('canonical_cost_features') }} as features
left join {{ ref('int_trade_monthly_costs') }} as costs
    on costs.project_key = features.project_key
    and costs.canonical_code = features.canonical_code
    and costs.month_start <= features.month_start
where {{ scope_predicate('features.project_key', 'features.month_start') }}
group by features.project_key, features.canonical_code, features.month_start, features.cumulative_cost_cents
having features.cumulative_cost_cents <> coalesce(sum(costs.cost_cents), 0)
