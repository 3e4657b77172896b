select
    project_key,
    source_file,
    kind as file_kind,
    source_hash,
    rows_in,
    rows_loaded,
    rows_rejected,
    loaded_at
from {{ source('raw', 'source_files') }}
