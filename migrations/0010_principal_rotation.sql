-- School principal rotation (docs/principal-rotation.md): the registry of schools, principals
-- and appointments, and the data of each rotation workflow.

-- Overlap of date ranges per school and per principal is refused by the database itself.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE schools (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    bin text NOT NULL CHECK (bin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    district text NOT NULL CHECK (length(district) BETWEEN 1 AND 100),
    locality text NOT NULL CHECK (length(locality) BETWEEN 1 AND 100),
    rural boolean NOT NULL,
    address text NOT NULL CHECK (length(address) <= 300),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('schools');

CREATE TABLE principals (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    iin text NOT NULL CHECK (iin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The last attestation; NULL when none is on record (the appointment date counts then).
    attested_on date,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, iin)
);
SELECT adal_isolate_tenant_table('principals');

-- Who headed which school when: [starts_on, ends_on), ends_on NULL while current.
CREATE TABLE appointments (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    school_id uuid NOT NULL,
    principal_id uuid NOT NULL,
    starts_on date NOT NULL,
    ends_on date CHECK (ends_on > starts_on),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals (tenant_id, id),
    EXCLUDE USING gist (tenant_id WITH =, school_id WITH =, daterange(starts_on, ends_on, '[)') WITH &&),
    EXCLUDE USING gist (tenant_id WITH =, principal_id WITH =, daterange(starts_on, ends_on, '[)') WITH &&)
);
SELECT adal_isolate_tenant_table('appointments');
CREATE INDEX appointments_current ON appointments (tenant_id, school_id) WHERE ends_on IS NULL;

-- One rotation workflow instance: the school, the outgoing principal, the candidates, the
-- commission's choice and the order's date. At most one open rotation per school.
CREATE TABLE rotations (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    school_id uuid NOT NULL,
    outgoing_id uuid NOT NULL,
    proposed_id uuid,
    chosen_id uuid,
    effective_on date,
    open boolean NOT NULL DEFAULT true,
    PRIMARY KEY (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id),
    FOREIGN KEY (tenant_id, outgoing_id) REFERENCES principals (tenant_id, id),
    FOREIGN KEY (tenant_id, proposed_id) REFERENCES principals (tenant_id, id),
    FOREIGN KEY (tenant_id, chosen_id) REFERENCES principals (tenant_id, id)
);
SELECT adal_isolate_tenant_table('rotations');
CREATE UNIQUE INDEX rotations_one_open_per_school ON rotations (tenant_id, school_id) WHERE open;

CREATE TABLE rotation_candidates (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    principal_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, principal_id),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES rotations (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, principal_id) REFERENCES principals (tenant_id, id)
);
SELECT adal_isolate_tenant_table('rotation_candidates');
