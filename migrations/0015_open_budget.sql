-- The open budget (docs/open-budget.md): districts with their outlines, organisations and the
-- social objects they run, budget lines planned per object and year, what was spent on them
-- (each amount tied to the workflow step that recorded it), citizens' reports on the objects
-- with their photos and videos (stored once per content hash), and the city's catalogue of
-- public services with how far each is automated.

-- Residents: a person who reports on objects and votes in the participatory budget.
ALTER TABLE user_roles DROP CONSTRAINT user_roles_role_check;
ALTER TABLE user_roles ADD CONSTRAINT user_roles_role_check CHECK (role IN (
    'akimat_admin', 'procurement_officer', 'commission_member', 'supplier', 'school_admin',
    'canteen_till', 'parent', 'clinic_doctor', 'employer', 'auditor', 'resident'));

CREATE TABLE budget_districts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The outline as the city uploaded it: a GeoJSON Polygon or MultiPolygon (WGS 84).
    outline jsonb,
    PRIMARY KEY (tenant_id, name)
);
SELECT adal_isolate_tenant_table('budget_districts');

CREATE TABLE budget_organisations (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    bin text NOT NULL CHECK (bin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    PRIMARY KEY (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('budget_organisations');

CREATE TABLE budget_objects (
    tenant_id uuid NOT NULL,
    code text NOT NULL CHECK (code ~ '^[A-Za-z0-9._-]{1,40}$'),
    organisation_bin text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('school', 'clinic', 'kindergarten', 'sports', 'culture')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    district text NOT NULL,
    address text NOT NULL CHECK (length(address) <= 300),
    latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    PRIMARY KEY (tenant_id, code),
    FOREIGN KEY (tenant_id, organisation_bin) REFERENCES budget_organisations (tenant_id, bin),
    FOREIGN KEY (tenant_id, district) REFERENCES budget_districts (tenant_id, name)
);
SELECT adal_isolate_tenant_table('budget_objects');
CREATE INDEX budget_objects_by_organisation ON budget_objects (tenant_id, organisation_bin);

CREATE TABLE budget_lines (
    tenant_id uuid NOT NULL,
    object_code text NOT NULL,
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    category text NOT NULL CHECK (category IN ('construction', 'repair', 'maintenance', 'meals', 'improvement')),
    planned bigint NOT NULL CHECK (planned >= 0),
    PRIMARY KEY (tenant_id, object_code, year, category),
    FOREIGN KEY (tenant_id, object_code) REFERENCES budget_objects (tenant_id, code)
);
SELECT adal_isolate_tenant_table('budget_lines');

-- Files people hand in (a spending document, a report's photos): stored once per SHA-256 of
-- the bytes as stored (metadata already stripped), served with the type read from the bytes.
CREATE TABLE media_files (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    media_type text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png', 'video/mp4')),
    size integer NOT NULL CHECK (size BETWEEN 1 AND 52428800),
    content bytea NOT NULL,
    stored_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
SELECT adal_isolate_tenant_table('media_files');

-- What was spent: each amount comes from one recorded workflow step — a manual entry of the
-- open-budget service (with its document) or a step of another service (a meal delivery).
CREATE TABLE budget_spending (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    sequence bigint NOT NULL,
    object_code text NOT NULL,
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    category text NOT NULL CHECK (category IN ('construction', 'repair', 'maintenance', 'meals', 'improvement')),
    amount bigint NOT NULL CHECK (amount > 0),
    source text NOT NULL CHECK (source IN ('manual', 'meal-delivery')),
    description text NOT NULL CHECK (length(description) <= 1000),
    document_sha256 bytea,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, sequence, object_code),
    FOREIGN KEY (tenant_id, object_code) REFERENCES budget_objects (tenant_id, code),
    -- Checked at commit: the step that starts an instance writes its own row after its actions.
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, document_sha256) REFERENCES media_files (tenant_id, sha256)
);
SELECT adal_isolate_tenant_table('budget_spending');
CREATE INDEX budget_spending_by_object ON budget_spending (tenant_id, object_code, year);

-- A citizen's report on an object: one workflow instance. The reporter's contact (for an
-- anonymous report) is sealed; the account, when signed in, is never shown to the public.
CREATE TABLE citizen_reports (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    object_code text,
    category text NOT NULL,
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    address text NOT NULL DEFAULT '' CHECK (length(address) <= 300),
    reporter_id uuid,
    sealed_contact bytea,
    submitted_at timestamptz NOT NULL,
    verdict text CHECK (verdict IN ('confirmed', 'not_confirmed')),
    answer text CHECK (length(answer) <= 4000),
    answered_at timestamptz,
    PRIMARY KEY (tenant_id, instance_id),
    -- Checked at commit: the step that starts an instance writes its own row after its actions.
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, object_code) REFERENCES budget_objects (tenant_id, code),
    FOREIGN KEY (tenant_id, reporter_id) REFERENCES users (tenant_id, id)
);
SELECT adal_isolate_tenant_table('citizen_reports');
CREATE INDEX citizen_reports_by_object ON citizen_reports (tenant_id, object_code);

CREATE TABLE citizen_report_media (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    position integer NOT NULL CHECK (position BETWEEN 1 AND 5),
    sha256 bytea NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, position),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES citizen_reports (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, sha256) REFERENCES media_files (tenant_id, sha256)
);
SELECT adal_isolate_tenant_table('citizen_report_media');

-- The city's catalogue of public services (digitization registry).
CREATE TABLE city_service_catalogue (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    code text NOT NULL CHECK (code ~ '^[A-Za-z0-9._-]{1,40}$'),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    agency text NOT NULL CHECK (length(agency) BETWEEN 1 AND 300),
    status text NOT NULL CHECK (status IN ('paper', 'partly', 'automated')),
    -- The Adal workflow that runs it, when one does.
    workflow text,
    PRIMARY KEY (tenant_id, code)
);
SELECT adal_isolate_tenant_table('city_service_catalogue');
