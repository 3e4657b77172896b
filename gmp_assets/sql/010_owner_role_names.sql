-- Owner group roles carry no owner name (pg_roles is readable by every role): gmp_owner_<24 random hex>,
-- mapped to the owner by access.owner_roles (whose policy shows a role only its own mappings).
-- Renames roles named after their owner (gmp_owner_<slug>_<hash>, before this file) keeping their
-- members. Idempotent; runs as gmp_pipeline through the administrator's gmp_admin functions (sql/admin).
DO $$
DECLARE
    old record;
    fresh text;
    member text;
BEGIN
    IF to_regnamespace('gmp_admin') IS NULL THEN
        RETURN;  -- roles managed by the operator (an external server whose role may not create roles)
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('gmp-access'));
    FOR old IN SELECT role_name, owner FROM access.owner_roles WHERE role_name !~ '^gmp_owner_[0-9a-f]{24}$' LOOP
        fresh := 'gmp_owner_' || left(replace(gen_random_uuid()::text, '-', ''), 24);
        PERFORM gmp_admin.ensure_role(fresh, false);
        FOR member IN
            SELECT r.rolname FROM pg_auth_members m
            JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
            WHERE g.rolname = old.role_name AND gmp_admin.is_plain_role(r.rolname)
        LOOP
            PERFORM gmp_admin.set_membership(fresh, member, true);
        END LOOP;
        UPDATE access.owner_roles SET role_name = fresh WHERE role_name = old.role_name;
        PERFORM gmp_admin.drop_owner_role(old.role_name);
    END LOOP;
END $$;
