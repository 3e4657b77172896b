select
    project_key,
    source_file,
    source_hash,
    line_number,
    data_date,
    activity_id,
    activity_name,
    division as raw_division_name,
    planned_start,
    planned_finish,
    percent_complete
from {{ source('raw', 'schedule_progress') }}
