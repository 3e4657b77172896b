-- Month spine per project: from its start month to the last month with cost or schedule data.
select
    timelines.project_key,
    months.month_start::date as month_start,
    (months.month_start + interval '1 month' - interval '1 day')::date as month_end,
    {{ months_between('timelines.start_month', 'months.month_start') }} + 1 as project_month
from {{ ref('int_project_timelines') }} as timelines
cross join lateral generate_series(
    timelines.start_month::timestamp,
    timelines.last_data_month::timestamp,
    interval '1 month'
) as months (month_start)
