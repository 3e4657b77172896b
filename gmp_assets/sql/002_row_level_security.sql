-- Row-level security: an owner organisation's database roles see only that owner's projects.
-- Idempotent: runs on every start, after 001. gmp_assets/access.py grants and revokes owners.
--
-- Roles (cluster-wide, NOLOGIN):
--   gmp_pipeline      the pipeline's login role (gmp_assets/db_roles.py: not superuser, no BYPASSRLS), owner of
--                     the schemas; it and its members see every row through the policies (ingestion, dbt, Dagster).
--   gmp_reader        holds USAGE on the data schemas and SELECT on the project tables; never UPDATE/DELETE.
--   gmp_owner_<hex>   one per owner organisation (010: no owner name in it), member of gmp_reader; login roles are granted it.
-- access.owner_roles maps each gmp_owner_* role to its owner name (raw.projects.owner).
--
-- Policies, all named gmp_isolation and FORCE'd (a non-superuser pipeline owning the tables is held to them too):
--   access.owner_roles  the mappings of the roles the current role inherits from;
--   raw.projects        projects whose owner is in those mappings;
--   every other table with a project_key (access.enable_project_rls): project_key in the visible raw.projects.
-- dbt's staging/intermediate views are made security_invoker by a post-hook (dbt_project.yml) and granted
-- to no reader; access.enable_project_rls on a view makes it security_invoker for views not built by dbt. Functions created by the pipeline are not
-- executable by PUBLIC (default privileges below), so a SECURITY DEFINER function cannot leak by accident.

CREATE SCHEMA IF NOT EXISTS access;
CREATE SCHEMA IF NOT EXISTS analytics;

DO $$
DECLARE
    wanted text;
BEGIN
    FOREACH wanted IN ARRAY ARRAY['gmp_pipeline', 'gmp_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = wanted) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', wanted);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by another database's start on the same server
            END;
        END IF;
    END LOOP;
    IF NOT pg_has_role(current_user, 'gmp_pipeline', 'USAGE') THEN
        EXECUTE format('GRANT gmp_pipeline TO %I', current_user);
    END IF;
END $$;

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Used as (SELECT access.is_pipeline()) in the policies: evaluated once per query, not per row.
CREATE OR REPLACE FUNCTION access.is_pipeline() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT pg_catalog.pg_has_role(current_user, 'gmp_pipeline', 'USAGE') $$;

-- Enable + FORCE row-level security on a table and create its policy gmp_isolation USING (condition)
-- unless it exists. A no-op (no lock taken) when all is in place. Run it as the table's owner.
CREATE OR REPLACE FUNCTION access.force_rls(target regclass, condition text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    rel pg_class%ROWTYPE;
BEGIN
    SELECT * INTO STRICT rel FROM pg_class WHERE oid = target;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', target;
    END IF;
    IF NOT rel.relrowsecurity THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    END IF;
    IF NOT rel.relforcerowsecurity THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = target AND polname = 'gmp_isolation') THEN
        EXECUTE format('CREATE POLICY gmp_isolation ON %s USING (%s)', target, condition);
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS access.owner_roles (
    role_name  text PRIMARY KEY CHECK (role_name ~ '^gmp_owner_[a-z0-9_]{1,53}$'),
    owner      text NOT NULL UNIQUE CHECK (owner <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- pg_roles rather than pg_has_role(current_user, role_name): a dropped role must not break every query.
SELECT access.force_rls('access.owner_roles', $$(SELECT access.is_pipeline()) OR role_name IN (
    SELECT r.rolname FROM pg_catalog.pg_roles r WHERE pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))$$);
SELECT access.force_rls('raw.projects', '(SELECT access.is_pipeline()) OR owner IN (SELECT o.owner FROM access.owner_roles o)');

-- Row-level security for one relation holding project rows (column project_key). A table gets
-- access.force_rls with "project_key in the visible raw.projects"; a view becomes security_invoker
-- (so the tables' policies apply to whoever queries it). Both: SELECT (and schema USAGE) for
-- gmp_reader. Cheap when already done: dbt post-hooks call it on every build.
CREATE OR REPLACE FUNCTION access.enable_project_rls(target regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    rel pg_class%ROWTYPE;
BEGIN
    SELECT * INTO STRICT rel FROM pg_class WHERE oid = target;
    IF target = 'raw.projects'::regclass THEN
        RAISE EXCEPTION 'raw.projects has its own owner policy (002_row_level_security.sql)';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = target AND attname = 'project_key' AND NOT attisdropped) THEN
        RAISE EXCEPTION '% has no project_key column: row-level security by project needs one', target;
    END IF;
    IF rel.relkind = 'v' THEN
        IF NOT coalesce('security_invoker=true' = ANY(rel.reloptions), false) THEN
            EXECUTE format('ALTER VIEW %s SET (security_invoker = true)', target);
        END IF;
    ELSE
        PERFORM access.force_rls(target, '(SELECT access.is_pipeline()) OR project_key IN (SELECT p.project_key FROM raw.projects p)');
    END IF;
    IF NOT has_schema_privilege('gmp_reader', rel.relnamespace, 'USAGE') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %s TO gmp_reader', rel.relnamespace::regnamespace);
    END IF;
    IF NOT has_table_privilege('gmp_reader', target, 'SELECT') THEN
        EXECUTE format('GRANT SELECT ON %s TO gmp_reader', target);
    END IF;
END $$;

-- Every table with a project_key in the data schemas (raw, taxonomy, analytics, ml): a DDL file
-- creating such tables calls this at its end; dbt-built tables get it from their post-hook.
CREATE OR REPLACE FUNCTION access.protect_project_tables() RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    target regclass;
    done integer := 0;
BEGIN
    FOR target IN
        SELECT c.oid::regclass FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_key' AND NOT a.attisdropped
        WHERE n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml') AND c.relkind IN ('r', 'p')
          AND c.oid <> 'raw.projects'::regclass AND NOT c.relispartition
        ORDER BY 1
    LOOP
        PERFORM access.enable_project_rls(target);
        done := done + 1;
    END LOOP;
    RETURN done;
END $$;

REVOKE ALL ON FUNCTION access.force_rls(regclass, text), access.enable_project_rls(regclass), access.protect_project_tables()
    FROM PUBLIC;
GRANT USAGE ON SCHEMA access, raw, taxonomy, analytics TO gmp_reader;
GRANT EXECUTE ON FUNCTION access.is_pipeline() TO gmp_reader;
GRANT SELECT ON access.owner_roles, raw.projects TO gmp_reader;
SELECT access.protect_project_tables();
