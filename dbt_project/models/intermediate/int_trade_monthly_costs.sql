-- Direct costs per project, canonical trade and calendar month of the cost date.
select
    costs.project_key,
    mappings.canonical_code,
    date_trunc('month', costs.cost_date)::date as month_start,
    count(*) as cost_line_count,
    sum(costs.amount_cents)::bigint as cost_cents
from {{ ref('stg_raw__direct_costs') }} as costs
inner join {{ ref('stg_taxonomy__trade_mappings') }} as mappings
    on mappings.project_key = costs.project_key
    and mappings.raw_division_name = costs.raw_division_name
where not mappings.is_pending
group by costs.project_key, mappings.canonical_code, date_trunc('month', costs.cost_date)
