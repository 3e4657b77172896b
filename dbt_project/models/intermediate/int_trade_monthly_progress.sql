-- Schedule percent complete per project, trade and spine month, as of the month end (no later data).
with

months as (

    select project_key, month_start, month_end
    from {{ ref('int_project_months') }}

),

latest_activity_rows as (

    -- each activity's most recent update on or before the month end
    select distinct on (months.project_key, months.month_start, progress.activity_id)
        months.project_key,
        months.month_start,
        progress.activity_id,
        progress.raw_division_name,
        progress.percent_complete,
        case
            when progress.planned_finish >= progress.planned_start
                then progress.planned_finish - progress.planned_start + 1
        end as planned_duration_days
    from months
    inner join {{ ref('stg_raw__schedule_progress') }} as progress
        on progress.project_key = months.project_key
        and progress.data_date <= months.month_end
    order by
        months.project_key asc,
        months.month_start asc,
        progress.activity_id asc,
        progress.data_date desc,
        progress.source_file desc,
        progress.line_number desc

)

select
    activities.project_key,
    mappings.canonical_code,
    activities.month_start,
    count(*) as activity_count,
    round(
        case
            when bool_and(activities.planned_duration_days is not null)
                then
                    sum(activities.percent_complete * activities.planned_duration_days)
                    / sum(activities.planned_duration_days)
            else avg(activities.percent_complete)
        end,
        2
    ) as reported_pct_complete
from latest_activity_rows as activities
inner join {{ ref('stg_taxonomy__trade_mappings') }} as mappings
    on mappings.project_key = activities.project_key
    and mappings.raw_division_name = activities.raw_division_name
where not mappings.is_pending
group by activities.project_key, mappings.canonical_code, activities.month_start
