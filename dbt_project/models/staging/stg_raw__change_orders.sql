select
    project_key,
    source_file,
    source_hash,
    line_number,
    contract_number,
    change_order_number,
    division as raw_division_name,
    zone,
    created_date,
    decision_date,
    status as change_order_status,
    amount_cents,
    contract_number = 'PRIME' as is_prime
from {{ source('raw', 'change_orders') }}
