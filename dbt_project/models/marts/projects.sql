{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='project_key',
        on_schema_change='fail',
        pre_hook="{{ delete_incremental_scope() }}"
    )
}}

with

file_counts as (

    select
        project_key,
        count(*) as source_file_count,
        sum(rows_loaded)::bigint as rows_loaded,
        sum(rows_rejected)::bigint as rows_rejected
    from {{ ref('stg_raw__source_files') }}
    group by project_key

),

budget_totals as (

    select project_key, sum(original_amount_cents + approved_changes_cents)::bigint as total_bac_cents
    from {{ ref('stg_raw__gmp_breakdown') }}
    group by project_key

),

mapped_budgets as (

    select project_key, sum(bac_cents)::bigint as mapped_bac_cents
    from {{ ref('int_trade_budgets') }}
    group by project_key

),

trade_counts as (

    select project_key, count(*) as trade_count
    from {{ ref('int_project_trades') }}
    group by project_key

)

select
    projects.project_key,
    projects.project_name,
    projects.total_square_feet,
    projects.project_type,
    projects.owner,
    projects.region,
    projects.start_date,
    projects.planned_finish_date,
    timelines.planned_duration_months,
    timelines.last_data_month,
    timelines.has_schedule,
    projects.status,
    projects.is_training_eligible,
    quality.quality_score,
    coalesce(file_counts.source_file_count, 0) as source_file_count,
    coalesce(file_counts.rows_loaded, 0) as rows_loaded,
    coalesce(file_counts.rows_rejected, 0) as rows_rejected,
    coalesce(trade_counts.trade_count, 0) as trade_count,
    coalesce(budget_totals.total_bac_cents, 0) as total_bac_cents,
    coalesce(mapped_budgets.mapped_bac_cents, 0) as mapped_bac_cents
from {{ ref('stg_raw__projects') }} as projects
inner join {{ ref('int_project_timelines') }} as timelines
    on timelines.project_key = projects.project_key
left join {{ ref('stg_raw__project_quality') }} as quality
    on quality.project_key = projects.project_key
left join file_counts
    on file_counts.project_key = projects.project_key
left join budget_totals
    on budget_totals.project_key = projects.project_key
left join mapped_budgets
    on mapped_budgets.project_key = projects.project_key
left join trade_counts
    on trade_counts.project_key = projects.project_key
where {{ incremental_scope('projects.project_key') }}
