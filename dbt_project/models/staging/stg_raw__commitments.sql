select
    project_key,
    source_file,
    source_hash,
    line_number,
    commitment_number,
    commitment_type,
    vendor,
    division as raw_division_name,
    cost_code,
    zone,
    executed_date,
    original_amount_cents,
    status as commitment_status,
    status = 'Void' as is_void
from {{ source('raw', 'commitments') }}
