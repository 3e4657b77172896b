{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['project_key', 'canonical_code', 'month_start'],
        on_schema_change='fail',
        pre_hook="{{ delete_incremental_scope('month_start', spine=ref('int_project_trade_months')) }}"
    )
}}

-- The project filter is applied first (every window below is partitioned by project); the month
-- filter only at the end, so cumulative values always cover the full history.
with

spine as (

    select project_key, canonical_code, month_start, month_end, project_month
    from {{ ref('int_project_trade_months') }}
    where {{ incremental_scope('project_key') }}

),

timelines as (

    select project_key, start_month, planned_duration_months
    from {{ ref('int_project_timelines') }}

),

monthly_costs as (

    -- costs dated before the project's start month are counted in the start month
    select
        costs.project_key,
        costs.canonical_code,
        greatest(costs.month_start, timelines.start_month) as month_start,
        sum(costs.cost_cents)::bigint as monthly_cost_cents
    from {{ ref('int_trade_monthly_costs') }} as costs
    inner join timelines
        on timelines.project_key = costs.project_key
    group by costs.project_key, costs.canonical_code, greatest(costs.month_start, timelines.start_month)

),

spine_costs as (

    select
        spine.*,
        coalesce(monthly_costs.monthly_cost_cents, 0) as monthly_cost_cents,
        monthly_costs.project_key is null as is_backfill
    from spine
    left join monthly_costs
        on monthly_costs.project_key = spine.project_key
        and monthly_costs.canonical_code = spine.canonical_code
        and monthly_costs.month_start = spine.month_start

),

running as (

    select
        *,
        sum(monthly_cost_cents) over history as cumulative_cost_cents,
        min(case when not is_backfill then month_start end) over history as first_cost_month
    from spine_costs
    window history as (
        partition by project_key, canonical_code
        order by month_start
        rows between unbounded preceding and current row
    )

),

budgeted as (

    -- the budget as of the month: original + PRIME change orders approved by then where the project
    -- has PRIME change orders, else original + the breakdown's undated Approved Changes
    select
        running.*,
        budgets.east_share,
        budgets.west_share,
        contracts.has_commitments,
        coalesce(commitments.committed_original_cents, 0) as committed_original_cents,
        coalesce(commitments.approved_co_cents, 0) as approved_co_cents,
        coalesce(commitments.pending_co_cents, 0) as pending_co_cents,
        case
            when contracts.has_prime_change_orders
                then coalesce(budgets.original_amount_cents, 0) + coalesce(commitments.prime_approved_co_cents, 0)
            else coalesce(budgets.bac_cents, 0)
        end::bigint as budget_cents
    from running
    inner join {{ ref('int_project_commitments') }} as contracts
        on contracts.project_key = running.project_key
    left join {{ ref('int_trade_budgets') }} as budgets
        on budgets.project_key = running.project_key
        and budgets.canonical_code = running.canonical_code
    left join {{ ref('int_trade_monthly_commitments') }} as commitments
        on commitments.project_key = running.project_key
        and commitments.canonical_code = running.canonical_code
        and commitments.month_start = running.month_start

)

select
    budgeted.project_key,
    budgeted.canonical_code,
    budgeted.month_start,
    budgeted.month_end,
    budgeted.monthly_cost_cents,
    budgeted.cumulative_cost_cents::bigint as cumulative_cost_cents,
    budgeted.budget_cents,
    projects.total_square_feet as project_square_feet,
    round(budgeted.monthly_cost_cents::numeric / projects.total_square_feet)::bigint as cost_per_sf_cents,
    round(budgeted.cumulative_cost_cents::numeric / projects.total_square_feet)::bigint as cumulative_cost_per_sf_cents,
    round(budgeted.budget_cents::numeric / projects.total_square_feet)::bigint as budget_per_sf_cents,
    round(
        (budgeted.committed_original_cents + budgeted.approved_co_cents)::numeric / projects.total_square_feet
    )::bigint as committed_per_sf_cents,
    round(budgeted.cumulative_cost_cents::numeric / nullif(budgeted.budget_cents, 0), 6) as pct_budget_spent,
    round(budgeted.project_month::numeric / timelines.planned_duration_months, 6) as schedule_elapsed_share,
    progress.reported_pct_complete,
    budgeted.east_share,
    budgeted.west_share,
    extract(month from budgeted.month_start)::integer as month_of_year,
    extract(quarter from budgeted.month_start)::integer as quarter,
    budgeted.project_month,
    case
        when budgeted.first_cost_month is null then 0
        else {{ months_between('budgeted.first_cost_month', 'budgeted.month_start') }} + 1
    end as trade_month,
    budgeted.is_backfill,
    budgeted.has_commitments,
    budgeted.committed_original_cents,
    budgeted.approved_co_cents,
    budgeted.pending_co_cents,
    budgeted.committed_original_cents + budgeted.approved_co_cents as committed_cents,
    greatest(budgeted.budget_cents - budgeted.committed_original_cents, 0) as uncommitted_cents
from budgeted
inner join {{ ref('stg_raw__projects') }} as projects
    on projects.project_key = budgeted.project_key
inner join timelines
    on timelines.project_key = budgeted.project_key
left join {{ ref('int_trade_monthly_progress') }} as progress
    on progress.project_key = budgeted.project_key
    and progress.canonical_code = budgeted.canonical_code
    and progress.month_start = budgeted.month_start
where {{ incremental_scope('budgeted.project_key', 'budgeted.month_start') }}
