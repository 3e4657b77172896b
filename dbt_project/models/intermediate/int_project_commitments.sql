-- One row per project: whether it has commitment lines (any status) and PRIME change orders (any status).
with

commitment_projects as (

    select distinct project_key
    from {{ ref('stg_raw__commitments') }}

),

prime_projects as (

    select distinct project_key
    from {{ ref('stg_raw__change_orders') }}
    where is_prime

)

select
    projects.project_key,
    commitment_projects.project_key is not null as has_commitments,
    prime_projects.project_key is not null as has_prime_change_orders
from {{ ref('stg_raw__projects') }} as projects
left join commitment_projects
    on commitment_projects.project_key = projects.project_key
left join prime_projects
    on prime_projects.project_key = projects.project_key
