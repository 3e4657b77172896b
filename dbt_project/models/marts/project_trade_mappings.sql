{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='project_key',
        on_schema_change='fail',
        pre_hook="{{ delete_incremental_scope() }}"
    )
}}

select
    mappings.project_key,
    mappings.raw_division_name,
    mappings.canonical_code,
    trades.name as canonical_name,
    mappings.method,
    mappings.confidence,
    mappings.candidates,
    mappings.is_pending,
    mappings.updated_at
from {{ ref('stg_taxonomy__trade_mappings') }} as mappings
left join {{ ref('canonical_trades') }} as trades
    on trades.code = mappings.canonical_code
where {{ incremental_scope('mappings.project_key') }}
