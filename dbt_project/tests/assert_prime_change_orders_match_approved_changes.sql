-- Where a project has PRIME change orders, the ones approved agree with the GMP breakdown's Approved
-- Changes per trade within $1; each difference is reported with both figures (severity warn: the
-- budgets as of each month follow the PRIME change orders either way).
{{ config(severity='warn') }}

select
    project_key,
    canonical_code,
    breakdown_approved_changes_cents,
    prime_approved_cents,
    difference_cents
from {{ ref('int_prime_change_order_reconciliation') }}
where
    {{ scope_predicate('project_key') }}
    and abs(difference_cents) > 100
