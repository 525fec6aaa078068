-- Which accounts work at which clinic: a doctor signs certificates only for a clinic that lists
-- them, so a doctor of one clinic cannot issue, extend or revoke in another's name.
CREATE TABLE clinic_staff (
    tenant_id uuid NOT NULL,
    clinic_id uuid NOT NULL,
    user_id uuid NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, clinic_id, user_id),
    FOREIGN KEY (tenant_id, clinic_id) REFERENCES clinics (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
SELECT adal_isolate_tenant_table('clinic_staff');
CREATE INDEX clinic_staff_by_user ON clinic_staff (tenant_id, user_id);

-- The cities whose trust list holds a key id, for verification without a city in the address
-- (POST /api/v1/verify: a token names its key, not its city). Key ids are public (every trust
-- list publishes them). Runs as the caller and sets each tenant in turn, so row-level security
-- stays in force, as adal_tenants_with_due_jobs does; restores the previous setting.
CREATE FUNCTION adal_sick_leave_key_cities(p_key_id bytea) RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    prior text := current_setting('app.tenant_id', true);
    candidate uuid;
BEGIN
    FOR candidate IN SELECT id FROM tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', candidate::text, true);
        IF EXISTS (SELECT 1 FROM clinic_keys WHERE tenant_id = candidate AND key_id = p_key_id) THEN
            RETURN NEXT candidate;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;
