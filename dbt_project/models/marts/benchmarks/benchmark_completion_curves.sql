-- Trade completion curves over completed training-eligible projects of every owner: the share of a
-- trade's final cost spent when a share of the trade's duration has elapsed. A trade's duration runs
-- from its first month with cost (trade_month 1) to its last month with cost; at elapsed share k/10
-- (k = 1..10) the spent share is its cumulative cost at trade_month ceil(k x duration / 10) over its
-- final cost. p10/p50/p90 across projects per trade and elapsed share; a point with fewer than
-- `benchmark_min_projects` projects is left out.
with

eligible as (

    select project_key
    from {{ ref('projects') }}
    where status = 'completed' and is_training_eligible

),

trade_rows as (

    select
        features.project_key,
        features.canonical_code,
        features.month_start,
        features.trade_month,
        features.monthly_cost_cents,
        features.cumulative_cost_cents
    from {{ ref('canonical_cost_features') }} as features
    inner join eligible on eligible.project_key = features.project_key

),

spans as (

    select
        project_key,
        canonical_code,
        max(trade_month) filter (where monthly_cost_cents <> 0) as duration_months,
        (array_agg(cumulative_cost_cents order by month_start desc))[1] as final_cost_cents
    from trade_rows
    group by project_key, canonical_code

),

points as (

    select
        spans.project_key,
        spans.canonical_code,
        (steps.k / 10.0)::numeric(3, 2) as elapsed_share,
        trade_rows.cumulative_cost_cents::double precision / spans.final_cost_cents as spent_share
    from spans
    cross join generate_series(1, 10) as steps (k)
    inner join trade_rows
        on trade_rows.project_key = spans.project_key
        and trade_rows.canonical_code = spans.canonical_code
        and trade_rows.trade_month = ceil(steps.k * spans.duration_months / 10.0)::integer
    where spans.final_cost_cents > 0 and spans.duration_months >= 1

)

{{ benchmark_bands('points', 'elapsed_share', 'spent_share', 'spent_share', 4) }}
