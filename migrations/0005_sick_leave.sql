-- Sick-leave certificates (docs/sick-leave.md): clinics, their signing keys, certificates and
-- every signed version of each.

-- Clinics that issue certificates in a city.
CREATE TABLE clinics (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    bin text NOT NULL CHECK (bin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('clinics');

-- A clinic's signing keys. The private key is stored sealed (AES-GCM with the key from the
-- server's configuration), never in clear; the public key is what the trust list publishes.
CREATE TABLE clinic_keys (
    tenant_id uuid NOT NULL,
    key_id bytea NOT NULL CHECK (length(key_id) = 8),
    clinic_id uuid NOT NULL,
    algorithm smallint NOT NULL CHECK (algorithm IN (-7, -8)),
    public_key bytea NOT NULL CHECK (length(public_key) BETWEEN 32 AND 64),
    sealed_private_key bytea NOT NULL CHECK (length(sealed_private_key) BETWEEN 40 AND 200),
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL CHECK (valid_until > valid_from),
    -- Set when the key is withdrawn from the trust list; its tokens stop verifying.
    removed_at timestamptz,
    PRIMARY KEY (tenant_id, key_id),
    FOREIGN KEY (tenant_id, clinic_id) REFERENCES clinics (tenant_id, id)
);
SELECT adal_isolate_tenant_table('clinic_keys');
CREATE INDEX clinic_keys_by_clinic ON clinic_keys (tenant_id, clinic_id, valid_until DESC);

-- One certificate per workflow instance of the sick-leave service.
CREATE TABLE certificates (
    tenant_id uuid NOT NULL,
    id bytea NOT NULL CHECK (length(id) = 12),
    instance_id uuid NOT NULL,
    clinic_id uuid NOT NULL,
    patient_iin text NOT NULL CHECK (patient_iin ~ '^[0-9]{12}$'),
    patient_name text NOT NULL CHECK (length(patient_name) BETWEEN 1 AND 200),
    date_of_birth date NOT NULL,
    employer_bin text NOT NULL CHECK (employer_bin ~ '^[0-9]{12}$'),
    period_start date NOT NULL,
    period_end date NOT NULL CHECK (period_end >= period_start),
    status text NOT NULL CHECK (status IN ('open', 'extended', 'closed', 'revoked')),
    current_version integer NOT NULL CHECK (current_version >= 1),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, clinic_id) REFERENCES clinics (tenant_id, id)
);
SELECT adal_isolate_tenant_table('certificates');

-- Every signed version; the token is exactly the text in that version's QR code.
CREATE TABLE certificate_versions (
    tenant_id uuid NOT NULL,
    certificate_id bytea NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    status text NOT NULL CHECK (status IN ('open', 'extended', 'closed')),
    period_end date NOT NULL,
    status_index integer NOT NULL CHECK (status_index >= 0),
    key_id bytea NOT NULL,
    token text NOT NULL CHECK (length(token) BETWEEN 5 AND 1200),
    issued_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, certificate_id, version),
    UNIQUE (tenant_id, status_index),
    FOREIGN KEY (tenant_id, certificate_id) REFERENCES certificates (tenant_id, id),
    FOREIGN KEY (tenant_id, key_id) REFERENCES clinic_keys (tenant_id, key_id)
);
SELECT adal_isolate_tenant_table('certificate_versions');
REVOKE UPDATE, DELETE ON certificate_versions FROM adal_app;
