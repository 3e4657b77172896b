-- Cost per square foot at completion by trade and project type, over completed training-eligible
-- projects of every owner: p10/p50/p90 of each project's final cumulative cost of the trade divided
-- by its gross area. One row per type and one over all types ('all'); a group of fewer than
-- `benchmark_min_projects` projects is left out, so no owner's single project can be read back.
with

eligible as (

    select project_key, project_type, total_square_feet
    from {{ ref('projects') }}
    where status = 'completed' and is_training_eligible

),

final_costs as (

    select distinct on (features.project_key, features.canonical_code)
        features.project_key,
        features.canonical_code,
        features.cumulative_cost_cents
    from {{ ref('canonical_cost_features') }} as features
    inner join eligible on eligible.project_key = features.project_key
    order by features.project_key asc, features.canonical_code asc, features.month_start desc

),

per_project as (

    select
        final_costs.project_key,
        final_costs.canonical_code,
        eligible.project_type,
        final_costs.cumulative_cost_cents::double precision / eligible.total_square_feet as cost_per_sf_cents
    from final_costs
    inner join eligible on eligible.project_key = final_costs.project_key
    where final_costs.cumulative_cost_cents > 0

),

typed as (

    select canonical_code, project_type, project_key, cost_per_sf_cents from per_project
    union all
    select canonical_code, 'all' as project_type, project_key, cost_per_sf_cents from per_project

)

{{ benchmark_bands('typed', 'project_type', 'cost_per_sf_cents', 'cost_per_sf_cents', 2) }}
