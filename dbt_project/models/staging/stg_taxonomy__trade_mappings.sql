select
    project_key,
    raw_division_name,
    canonical_code,
    method,
    confidence,
    candidates,
    canonical_code is null as is_pending,
    updated_at
from {{ source('taxonomy', 'trade_mappings') }}
