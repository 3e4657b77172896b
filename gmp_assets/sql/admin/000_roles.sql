-- Run by the administrator (the embedded server's `postgres`, or GMP_DATABASE_URL's role) on every start,
-- before the DDL files, which then run as gmp_pipeline. Idempotent.
--
-- The pipeline role owns the data schemas but may not create roles (no CREATEROLE): it asks the
-- functions below, SECURITY DEFINER and owned by the administrator, which create and grant only:
--   gmp_owner_<24 hex>  NOLOGIN group roles, members of gmp_reader (their names carry no owner name);
--   plain roles         (not pg_*/gmp_*, not superuser, no BYPASSRLS/CREATEROLE/REPLICATION, not in
--                       gmp_pipeline) created NOLOGIN or LOGIN with no other attribute, and given
--                       gmp_reader, gmp_reviewer or an owner role, or given to gmp_hub.
-- They read only the catalogs, never a table the pipeline owns (whose triggers or policies would run
-- with the administrator's rights).

CREATE SCHEMA IF NOT EXISTS gmp_admin;
REVOKE ALL ON SCHEMA gmp_admin FROM PUBLIC;
GRANT USAGE ON SCHEMA gmp_admin TO gmp_pipeline;

-- A role a person may be given owners with: exists, no pg_/gmp_ prefix, no attribute beyond LOGIN/INHERIT.
CREATE OR REPLACE FUNCTION gmp_admin.is_plain_role(name text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (
        SELECT FROM pg_roles r
        WHERE r.rolname = name AND lower(name) !~ '^(pg_|gmp_)'
          AND NOT (r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication)
          AND NOT pg_has_role(r.oid, 'gmp_pipeline', 'MEMBER'))
$$;

CREATE OR REPLACE FUNCTION gmp_admin.ensure_role(name text, login boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name ~ '^gmp_owner_[0-9a-f]{24}$' THEN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE gmp_reader', name);
        END IF;
        RETURN;
    END IF;
    IF name IS NULL OR name !~ '^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$' OR lower(name) ~ '^(pg_|gmp_)' THEN
        RAISE EXCEPTION 'invalid role name %', quote_literal(name) USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
        EXECUTE format('CREATE ROLE %I %s', name, CASE WHEN login THEN 'LOGIN' ELSE 'NOLOGIN' END);
    ELSIF NOT gmp_admin.is_plain_role(name) THEN
        RAISE EXCEPTION 'role % sees every project already (superuser, BYPASSRLS or gmp_pipeline member)', name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

-- GRANT (or REVOKE) membership of `granted` to `member`, for the pairs listed at the top only.
CREATE OR REPLACE FUNCTION gmp_admin.set_membership(granted text, member text, present boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT (
        (granted ~ '^gmp_owner_[0-9a-f]{24}$' OR granted IN ('gmp_reader', 'gmp_reviewer')) AND gmp_admin.is_plain_role(member)
        OR member = 'gmp_hub' AND gmp_admin.is_plain_role(granted)
    ) OR NOT EXISTS (SELECT FROM pg_roles WHERE rolname = granted) THEN
        RAISE EXCEPTION 'the pipeline may not % % % %', CASE WHEN present THEN 'grant' ELSE 'revoke' END, granted,
            CASE WHEN present THEN 'to' ELSE 'from' END, member USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF present THEN
        EXECUTE format('GRANT %I TO %I', granted, member);
    ELSE
        EXECUTE format('REVOKE %I FROM %I', granted, member);
    END IF;
END $$;

-- Drop an owner group role no longer recorded (the renaming of slug-named roles, 002).
CREATE OR REPLACE FUNCTION gmp_admin.drop_owner_role(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name !~ '^gmp_owner_[a-z0-9_]{1,53}$' THEN
        RAISE EXCEPTION '% is not an owner role', name USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('DROP ROLE IF EXISTS %I', name);
END $$;

REVOKE ALL ON FUNCTION gmp_admin.is_plain_role(text), gmp_admin.ensure_role(text, boolean),
    gmp_admin.set_membership(text, text, boolean), gmp_admin.drop_owner_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gmp_admin.is_plain_role(text), gmp_admin.ensure_role(text, boolean),
    gmp_admin.set_membership(text, text, boolean), gmp_admin.drop_owner_role(text) TO gmp_pipeline;

-- The pipeline owns the data schemas and everything in them (installations set up before it was a
-- login role have them owned by the administrator). A no-op, without locks, once all is in place.
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT n.nspname FROM pg_namespace n
        WHERE n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml', 'access') AND n.nspowner <> 'gmp_pipeline'::regrole
    LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO gmp_pipeline', item.nspname);
    END LOOP;
    FOR item IN
        SELECT c.oid::regclass AS target, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml', 'access') AND c.relowner <> 'gmp_pipeline'::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO gmp_pipeline',
            CASE item.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
            item.target);
    END LOOP;
    FOR item IN  -- sequences not owned by a column (those follow their table)
        SELECT c.oid::regclass AS target FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml', 'access') AND c.relkind = 'S'
          AND c.relowner <> 'gmp_pipeline'::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO gmp_pipeline', item.target);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS target, p.prokind FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('raw', 'taxonomy', 'analytics', 'ml', 'access') AND p.proowner <> 'gmp_pipeline'::regrole
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO gmp_pipeline', CASE item.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, item.target);
    END LOOP;
END $$;
