select
    project_key,
    name as project_name,
    total_square_feet,
    project_type,
    region,
    owner,
    start_date,
    planned_finish_date,
    status,
    is_training_eligible,
    source_file,
    source_hash,
    loaded_at
from {{ source('raw', 'projects') }}
