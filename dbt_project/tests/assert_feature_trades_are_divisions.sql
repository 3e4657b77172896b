-- Feature rows are per level-1 CSI division: a mapping to a section or item code would break the grain.
-- Only the rows in the vars' scope are checked.
select distinct features.project_key, features.canonical_code, trades.level
from {{ ref('canonical_cost_features') }} as features
inner join {{ ref('canonical_trades') }} as trades
    on trades.code = features.canonical_code
where
    trades.level <> 1
    and {{ scope_predicate('features.project_key', 'features.month_start') }}
