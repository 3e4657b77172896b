select
    project_key,
    source_file,
    source_hash,
    line_number,
    division as raw_division_name,
    cost_code,
    description as line_description,
    zone,
    original_amount_cents,
    approved_changes_cents
from {{ source('raw', 'gmp_breakdown') }}
