-- The feature grain: every month of a project's spine x every trade of that project.
select
    months.project_key,
    trades.canonical_code,
    months.month_start,
    months.month_end,
    months.project_month
from {{ ref('int_project_months') }} as months
inner join {{ ref('int_project_trades') }} as trades
    on trades.project_key = months.project_key
