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
