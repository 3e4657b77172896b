select
    project_key,
    source_file,
    source_hash,
    line_number,
    column_name,
    reason as rejection_reason,
    raw_values
from {{ source('raw', 'rejected_rows') }}
