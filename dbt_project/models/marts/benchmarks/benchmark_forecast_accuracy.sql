-- Forecast accuracy by stage (share of schedule elapsed) and method from the latest backtest run
-- (ml.backtest_results, written by the backtest asset over completed projects): no project rows.
with

latest as (

    select run_id
    from {{ source('ml', 'backtest_results') }}
    group by run_id
    order by max(created_at) desc, run_id desc
    limit 1

)

select
    results.run_id,
    results.stage,
    results.method,
    results.n,
    results.mape,
    results.median_ape,
    results.coverage80,
    results.mean_width,
    results.created_at
from {{ source('ml', 'backtest_results') }} as results
inner join latest on latest.run_id = results.run_id
