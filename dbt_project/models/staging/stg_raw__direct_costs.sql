select
    project_key,
    source_file,
    source_hash,
    line_number,
    cost_date,
    division as raw_division_name,
    cost_code,
    vendor,
    cost_type,
    invoice_number,
    description as line_description,
    zone,
    amount_cents
from {{ source('raw', 'direct_costs') }}
