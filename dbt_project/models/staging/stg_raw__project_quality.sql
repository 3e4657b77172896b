select
    project_key,
    score as quality_score,
    components as quality_components,
    computed_at as quality_computed_at
from {{ source('raw', 'project_quality') }}
