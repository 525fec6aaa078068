-- Every online check of a genuine sick-leave token, so the patient can see when and by whom
-- their certificate was checked. Only genuine tokens are recorded (the signature is verified
-- before), so a forger cannot write into someone's history.
CREATE TABLE certificate_checks (
    tenant_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    certificate_id bytea NOT NULL,
    version integer NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now(),
    -- The signed-in checker (an employer's account), or NULL for an anonymous check.
    checker_user_id uuid,
    checker_name text CHECK (length(checker_name) <= 200),
    verdict text NOT NULL CHECK (length(verdict) <= 32),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, certificate_id) REFERENCES certificates (tenant_id, id)
);
SELECT adal_isolate_tenant_table('certificate_checks');
CREATE INDEX certificate_checks_by_certificate ON certificate_checks (tenant_id, certificate_id, checked_at DESC);
REVOKE UPDATE, DELETE ON certificate_checks FROM adal_app;

-- Records one check in one statement, committed without waiting for the disk: a check lost in
-- a crash costs nothing, while waiting would put an fsync on every employer's scan.
CREATE FUNCTION adal_sick_leave_record_check(
    p_tenant uuid,
    p_certificate bytea,
    p_version integer,
    p_checker uuid,
    p_checker_name text,
    p_verdict text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    prior text := current_setting('app.tenant_id', true);
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    INSERT INTO certificate_checks (tenant_id, certificate_id, version, checker_user_id, checker_name, verdict)
    VALUES (p_tenant, p_certificate, p_version, p_checker, p_checker_name, p_verdict);
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;
