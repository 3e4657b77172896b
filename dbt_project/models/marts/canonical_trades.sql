select
    code,
    level,
    parent_code,
    name,
    typical_gmp_share,
    typical_start_share,
    typical_finish_share,
    typical_duration_share
from {{ ref('csi_taxonomy') }}
