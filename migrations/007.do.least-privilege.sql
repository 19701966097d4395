-- The role the server works as (DESIGN.md "Security": least privilege). Migrations and the
-- operator CLI (rebuilds, audits) run as the database owner; `nova serve` connects as the owner
-- and switches to nova_app for every session (src/db/roles.ts). As nova_app the server can
-- append events but never change or remove one, write the read models but not alter or drop a
-- table, and read and write its API keys.
--
-- Roles belong to the cluster, not the database: the role is created once, by whichever
-- database migrates first, and granted here on this database's objects. An owner that may not
-- create roles gets a notice, and the server then works as the owner (with a warning).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nova_app') THEN
    BEGIN
      CREATE ROLE nova_app NOLOGIN;
    EXCEPTION
      WHEN duplicate_object THEN NULL; -- another database's migration created it just now
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'cannot create role nova_app: the server will work as the owner';
        RETURN;
    END;
  END IF;
  BEGIN
    -- Lets the owner's sessions SET ROLE nova_app (needed when the owner is not a superuser).
    EXECUTE format('GRANT nova_app TO %I', current_user);
  EXCEPTION
    WHEN insufficient_privilege OR invalid_grant_operation THEN NULL;
  END;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO nova_app', current_schema());
  -- Events are appended and read, never updated or deleted (the triggers refuse that to every
  -- role as well). Stream heads move with each append.
  GRANT SELECT, INSERT ON events TO nova_app;
  GRANT SELECT, INSERT, UPDATE ON streams TO nova_app;
  GRANT EXECUTE ON FUNCTION lock_streams(text[]) TO nova_app;
  -- Keys are created and revoked, never deleted.
  GRANT SELECT, INSERT, UPDATE ON api_keys TO nova_app;
  -- Every other table is a read model the projector writes.
  EXECUTE format(
    'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO nova_app',
    current_schema());
  REVOKE UPDATE, DELETE ON events FROM nova_app;
  REVOKE DELETE ON streams, api_keys FROM nova_app;
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO nova_app', current_schema());
  -- Tables later migrations and rebuilds create (as the owner) are read models too.
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO nova_app',
    current_user);
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT USAGE, SELECT ON SEQUENCES TO nova_app',
    current_user);
END
$$;

-- The projector creates next month's ledger_entries partition; as nova_app it may not create
-- tables, so the function runs as its owner. It creates only partitions of ledger_entries.
ALTER FUNCTION ensure_ledger_entry_partitions(timestamptz, integer) SECURITY DEFINER;
