-- Foundation: tenants, users and their roles, sessions, API tokens, login throttling.
--
-- Runs as the owner role (adal_owner), which owns every table. The server connects as
-- adal_app, which owns nothing and cannot bypass row-level security.
--
-- Rules for every tenant-owned table (a test checks them against the catalog):
--   * tenant_id uuid NOT NULL is the first column of the primary key, of every unique
--     constraint and of every foreign key between tenant tables;
--   * row-level security is enabled and forced, with the one policy that
--     adal_isolate_tenant_table() creates.

-- Cities and regions. Not tenant-owned: it is the list of tenants itself, readable by the
-- server (the home page lists it) and written only by the owner (adal tenant create).
CREATE TABLE tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])$'),
    name_kk text NOT NULL CHECK (length(name_kk) BETWEEN 1 AND 200),
    name_ru text NOT NULL CHECK (length(name_ru) BETWEEN 1 AND 200),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
    region text NOT NULL DEFAULT '' CHECK (length(region) <= 200),
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON tenants TO adal_app;

-- The migrator's record (created by adal before the first migration): the server reads it to
-- refuse to start on a schema older than its code.
GRANT SELECT ON schema_migrations TO adal_app;

-- Every table created from here on is readable and writable by the application role;
-- row-level security decides which rows.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO adal_app;

-- Turns on the tenant isolation of one tenant-owned table: row-level security, enabled and
-- forced (so the owner is bound too), with one policy on the transaction's app.tenant_id.
-- NULLIF makes an unset tenant ('' after an earlier transaction set it) match no row.
CREATE FUNCTION adal_isolate_tenant_table(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s '
        'USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
        'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)',
        target);
END
$$;
REVOKE ALL ON FUNCTION adal_isolate_tenant_table(regclass) FROM PUBLIC;

-- The services a tenant has turned on.
CREATE TABLE tenant_services (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    service_key text NOT NULL CHECK (service_key ~ '^[a-z][a-z0-9-]{1,62}$'),
    enabled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, service_key)
);
SELECT adal_isolate_tenant_table('tenant_services');

-- People and machines that sign in, per tenant. Logins are stored lower-case.
CREATE TABLE users (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    login text NOT NULL CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    iin char(12) CHECK (iin ~ '^[0-9]{12}$'),
    password_hash text NOT NULL,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, login)
);
SELECT adal_isolate_tenant_table('users');

CREATE TABLE user_roles (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role text NOT NULL CHECK (role IN (
        'akimat_admin', 'procurement_officer', 'commission_member', 'supplier', 'school_admin',
        'canteen_till', 'parent', 'clinic_doctor', 'employer', 'auditor')),
    PRIMARY KEY (tenant_id, user_id, role),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT adal_isolate_tenant_table('user_roles');

-- Browser sessions. Only the SHA-256 of the cookie's secret is stored.
CREATE TABLE sessions (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT adal_isolate_tenant_table('sessions');

-- API tokens for machines (canteen tills, employers' HR systems): scoped to a subset of the
-- user's roles, revocable. Only the SHA-256 of the 256-bit secret is stored.
CREATE TABLE api_tokens (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    roles text[] NOT NULL CHECK (cardinality(roles) >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT adal_isolate_tenant_table('api_tokens');

-- Failed sign-ins per account ('account:<login>') and per address ('address:<ip>'), kept in
-- the database so that every server process throttles alike.
CREATE TABLE login_throttle (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    subject text NOT NULL CHECK (length(subject) <= 200),
    failures integer NOT NULL CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL,
    last_failure_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
SELECT adal_isolate_tenant_table('login_throttle');
