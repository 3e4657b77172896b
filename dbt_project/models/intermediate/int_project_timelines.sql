-- One row per project: its start and planned finish months, planned duration, and last month with data.
with

data_months as (

    select project_key, max(date_trunc('month', cost_date))::date as last_month, false as is_schedule
    from {{ ref('stg_raw__direct_costs') }}
    group by project_key

    union all

    select project_key, max(date_trunc('month', data_date))::date as last_month, true as is_schedule
    from {{ ref('stg_raw__schedule_progress') }}
    group by project_key

),

projects as (

    select
        project_key,
        date_trunc('month', start_date)::date as start_month,
        date_trunc('month', planned_finish_date)::date as planned_finish_month
    from {{ ref('stg_raw__projects') }}

)

select
    projects.project_key,
    projects.start_month,
    projects.planned_finish_month,
    {{ months_between('projects.start_month', 'projects.planned_finish_month') }} + 1 as planned_duration_months,
    max(data_months.last_month) as last_data_month,
    coalesce(bool_or(data_months.is_schedule), false) as has_schedule
from projects
left join data_months
    on data_months.project_key = projects.project_key
group by projects.project_key, projects.start_month, projects.planned_finish_month
