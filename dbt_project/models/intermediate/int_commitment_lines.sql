-- Commitment lines with the canonical trade their division maps to (lines of pending names are left out).
select
    lines.project_key,
    mappings.canonical_code,
    lines.source_file,
    lines.line_number,
    lines.commitment_number,
    lines.executed_date,
    lines.original_amount_cents,
    lines.is_void
from {{ ref('stg_raw__commitments') }} as lines
inner join {{ ref('stg_taxonomy__trade_mappings') }} as mappings
    on mappings.project_key = lines.project_key
    and mappings.raw_division_name = lines.raw_division_name
where not mappings.is_pending
