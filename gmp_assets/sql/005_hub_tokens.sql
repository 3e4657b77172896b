-- The forecast hub (gmp_assets/hub): its login role, API tokens and the reviewer role. Idempotent.
--
-- Roles (cluster-wide):
--   gmp_hub       LOGIN NOINHERIT: the web app's connection. It holds no privilege on project data of its
--                 own; `gmp access token create ROLE` makes it a member of ROLE, and each request runs
--                 SET LOCAL ROLE to its token's role, so row-level security decides what it reads.
--   gmp_reviewer  NOLOGIN: may confirm trade mappings (INSERT/UPDATE on the taxonomy tables; their
--                 row-level security still limits it to the projects its members may read).
--                 `gmp access grant ROLE OWNER --reviewer` grants it.
-- access.api_tokens keeps only the SHA-256 of each token; gmp_hub reads it to authenticate.
CREATE SCHEMA IF NOT EXISTS access;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gmp_hub') THEN
        BEGIN
            CREATE ROLE gmp_hub LOGIN NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by another database's start on the same server
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gmp_reviewer') THEN
        BEGIN
            CREATE ROLE gmp_reviewer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS access.api_tokens (
    token_id      bigserial PRIMARY KEY,
    role_name     text NOT NULL,
    token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
REVOKE ALL ON access.api_tokens FROM PUBLIC;
GRANT USAGE ON SCHEMA access TO gmp_hub;
GRANT SELECT ON access.api_tokens TO gmp_hub;
GRANT UPDATE (last_used_at) ON access.api_tokens TO gmp_hub;

GRANT USAGE ON SCHEMA taxonomy TO gmp_reviewer;
GRANT SELECT, INSERT ON taxonomy.confirmed_mappings TO gmp_reviewer;
GRANT UPDATE (canonical_code, confirmed_at, confirmed_by) ON taxonomy.confirmed_mappings TO gmp_reviewer;
GRANT SELECT ON taxonomy.trade_mappings TO gmp_reviewer;
GRANT UPDATE (canonical_code, method, confidence, updated_at) ON taxonomy.trade_mappings TO gmp_reviewer;

-- The hub's portfolio sums the budget and cost filed under each pending division name.
CREATE INDEX IF NOT EXISTS direct_costs_project_division ON raw.direct_costs (project_key, division) INCLUDE (amount_cents);
CREATE INDEX IF NOT EXISTS gmp_breakdown_project_division ON raw.gmp_breakdown (project_key, division);
