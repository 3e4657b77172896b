-- Budget (BAC) per project and canonical trade, with its east/west split.
with

budget_lines as (

    select
        lines.project_key,
        mappings.canonical_code,
        lines.zone,
        lines.original_amount_cents,
        lines.approved_changes_cents,
        lines.original_amount_cents + lines.approved_changes_cents as bac_cents
    from {{ ref('stg_raw__gmp_breakdown') }} as lines
    inner join {{ ref('stg_taxonomy__trade_mappings') }} as mappings
        on mappings.project_key = lines.project_key
        and mappings.raw_division_name = lines.raw_division_name
    where not mappings.is_pending

),

trades as (

    select
        project_key,
        canonical_code,
        count(*) as budget_line_count,
        sum(original_amount_cents)::bigint as original_amount_cents,
        sum(approved_changes_cents)::bigint as approved_changes_cents,
        sum(bac_cents)::bigint as bac_cents,
        sum(case when zone = 'EAST' then bac_cents else 0 end)::bigint as east_bac_cents,
        sum(case when zone = 'WEST' then bac_cents else 0 end)::bigint as west_bac_cents,
        sum(case when zone = 'SHARED' then bac_cents else 0 end)::bigint as shared_bac_cents
    from budget_lines
    group by project_key, canonical_code

)

select
    *,
    round((east_bac_cents + shared_bac_cents / 2.0) / nullif(bac_cents, 0), 6) as east_share,
    round((west_bac_cents + shared_bac_cents / 2.0) / nullif(bac_cents, 0), 6) as west_share
from trades
