{#-
  The final select of a benchmark mart: per trade and `group_column` of the CTE `source`, the number
  of projects and the p10, p50 and p90 (percentile_cont: linear interpolation) of `value`, rounded to
  `digits`, as p10_<name>, p50_<name>, p90_<name>; groups of fewer than `benchmark_min_projects`
  projects are left out, so no single project of another owner can be read back.
-#}
{% macro benchmark_bands(source, group_column, value, name, digits) -%}
select
    {{ source }}.canonical_code,
    trades.name as canonical_name,
    {{ source }}.{{ group_column }},
    count(distinct {{ source }}.project_key)::integer as n_projects,
    {%- for p in [10, 50, 90] %}
    round(percentile_cont({{ p / 100 }}) within group (order by {{ source }}.{{ value }})::numeric, {{ digits }})
        as p{{ p }}_{{ name }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ source }}
inner join {{ ref('canonical_trades') }} as trades
    on trades.code = {{ source }}.canonical_code
group by {{ source }}.canonical_code, trades.name, {{ source }}.{{ group_column }}
having count(distinct {{ source }}.project_key) >= {{ var('benchmark_min_projects') }}
{%- endmacro %}
