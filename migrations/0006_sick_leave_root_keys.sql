-- Each city's root key for sick-leave certificates: it signs the published trust list (the
-- clinic keys the city trusts) and status list. Sealed like the clinic keys; verifiers keep the
-- public half.
CREATE TABLE sick_leave_root_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    sealed_private_key bytea NOT NULL CHECK (length(sealed_private_key) BETWEEN 40 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
SELECT adal_isolate_tenant_table('sick_leave_root_keys');
REVOKE UPDATE, DELETE ON sick_leave_root_keys FROM adal_app;
