-- The workflow engine (see docs/workflows.md): each city's pinned service versions and
-- parameters, running instances, their steps, and one jobs table for timers, escalations and
-- the outbox.
--
-- Tables written on every step carry no foreign key to a city-wide row (tenants,
-- tenant_services): each such check takes a KEY SHARE lock on that one row, and a busy city's
-- concurrent steps then pile onto it as ever-growing multixacts (measured: the hot-city
-- benchmark fell from about 1,400 to under 500 steps/s). Row-level security's WITH CHECK already
-- pins every row to the transaction's city, and the engine reads the city's service settings in
-- the step's own transaction.

-- A city pins the version of a service's definition it runs and sets its parameters.
ALTER TABLE tenant_services
    ADD COLUMN definition_version integer CHECK (definition_version BETWEEN 1 AND 1000000),
    ADD COLUMN parameters jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(parameters) = 'object' AND length(parameters::text) <= 65536),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- One running or finished case of a service. The definition and the city's parameters are
-- frozen at start: a later version or setting never changes a running instance silently.
CREATE TABLE workflow_instances (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    service_key text NOT NULL,
    definition_version integer NOT NULL CHECK (definition_version >= 1),
    definition_sha256 text NOT NULL CHECK (definition_sha256 ~ '^[0-9a-f]{64}$'),
    parameters jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
    state text NOT NULL,
    -- The step that entered the current state: timers remember it to know they still apply.
    state_sequence bigint NOT NULL CHECK (state_sequence >= 1),
    state_entered_at timestamptz NOT NULL,
    last_sequence bigint NOT NULL CHECK (last_sequence >= state_sequence),
    -- A short label for lists and search, set by the service ("Lot 3: school No. 45").
    subject text NOT NULL DEFAULT '' CHECK (length(subject) <= 300),
    -- The open human task, if the state waits on a role.
    task_role text,
    task_due_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    closed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
SELECT adal_isolate_tenant_table('workflow_instances');
CREATE INDEX workflow_instances_by_state
    ON workflow_instances (tenant_id, service_key, state, created_at DESC);
CREATE INDEX workflow_instances_by_task
    ON workflow_instances (tenant_id, task_role, task_due_at) WHERE task_role IS NOT NULL;
CREATE INDEX workflow_instances_by_created ON workflow_instances (tenant_id, created_at DESC);

-- Every step of every instance, never changed once written.
CREATE TABLE workflow_steps (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    sequence bigint NOT NULL CHECK (sequence >= 1),
    event text NOT NULL,
    from_state text,
    to_state text NOT NULL,
    actor_id uuid,
    actor_role text NOT NULL,
    input jsonb NOT NULL,
    input_sha256 bytea NOT NULL CHECK (length(input_sha256) = 32),
    -- A client's idempotency key and the SHA-256 of the request it came with.
    idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_sha256 bytea CHECK (length(request_sha256) = 32),
    at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, sequence),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id)
);
SELECT adal_isolate_tenant_table('workflow_steps');
CREATE UNIQUE INDEX workflow_steps_idempotency
    ON workflow_steps (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
REVOKE UPDATE, DELETE ON workflow_steps FROM adal_app;

-- Work for later: timers and escalations fire events as the system actor; outbox messages are
-- delivered to their handlers. Claimed with FOR UPDATE SKIP LOCKED, so several server
-- processes share the table without doing one job twice.
CREATE TABLE jobs (
    tenant_id uuid NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('timer', 'escalation', 'outbox')),
    instance_id uuid,
    -- For timers and escalations: the step that entered the state they belong to.
    state_sequence bigint,
    event text,
    topic text CHECK (length(topic) BETWEEN 1 AND 100),
    payload jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (length(payload::text) <= 65536),
    run_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 8 CHECK (max_attempts >= 1),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled', 'dead')),
    last_error text CHECK (length(last_error) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id),
    CHECK ((kind = 'outbox') = (topic IS NOT NULL)),
    CHECK (kind = 'outbox' OR (instance_id IS NOT NULL AND state_sequence IS NOT NULL))
);
SELECT adal_isolate_tenant_table('jobs');
CREATE INDEX jobs_due ON jobs (tenant_id, run_at) WHERE status = 'pending';
-- By instance alone: a step cancels its instance's timers through it, and with tenant_id in
-- front a generic plan may prefer jobs_due and walk every pending (and not yet vacuumed) job
-- of a busy city.
CREATE INDEX jobs_by_instance ON jobs (instance_id) WHERE status = 'pending';
CREATE INDEX jobs_dead ON jobs (tenant_id, finished_at DESC) WHERE status = 'dead';

-- Tables that every step updates or deletes from: vacuum and analyse them after 1 % of change
-- rather than the default 20 %, so that a busy city's lookups do not wade through dead rows
-- (measured: a hot city fell from about 1,200 to under 300 steps/s before a VACUUM).
ALTER TABLE workflow_instances SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
ALTER TABLE audit_queue SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);

-- The same for the leaves every step queues (audit_queue was created with one in 0002).
ALTER TABLE audit_queue DROP CONSTRAINT audit_queue_tenant_id_fkey;

-- The tenants with jobs due by `horizon`, for the job runner. It runs as the caller (the
-- application role) and sets the tenant for each probe, so row-level security stays in force.
CREATE FUNCTION adal_tenants_with_due_jobs(horizon timestamptz) RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    candidate uuid;
BEGIN
    FOR candidate IN SELECT id FROM tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', candidate::text, true);
        IF EXISTS (
            SELECT 1 FROM jobs WHERE tenant_id = candidate AND status = 'pending' AND run_at <= horizon
        ) THEN
            RETURN NEXT candidate;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$;

-- The same for the audit sequencer: tenants with leaves waiting in audit_queue.
CREATE FUNCTION adal_tenants_with_queued_leaves() RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    candidate uuid;
BEGIN
    FOR candidate IN SELECT id FROM tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', candidate::text, true);
        IF EXISTS (SELECT 1 FROM audit_queue WHERE tenant_id = candidate) THEN
            RETURN NEXT candidate;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$;

-- The leaf of every integrated step, so that the sequencer can chain an instance's leaves (each
-- leaf names the index of the instance's previous step) and pages can link a step to its leaf.
CREATE TABLE audit_step_leaves (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    instance_id uuid NOT NULL,
    sequence bigint NOT NULL CHECK (sequence >= 1),
    leaf_index bigint NOT NULL CHECK (leaf_index >= 0),
    PRIMARY KEY (tenant_id, instance_id, sequence)
);
SELECT adal_isolate_tenant_table('audit_step_leaves');
REVOKE UPDATE, DELETE ON audit_step_leaves FROM adal_app;

-- The per-tenant key of the keyed hashes (HMAC-SHA256) that stand for people and organisations
-- in audit leaves. Never published: without it a 12-digit IIN cannot be found by trying all.
CREATE TABLE audit_subject_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    key bytea NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
SELECT adal_isolate_tenant_table('audit_subject_keys');
REVOKE UPDATE, DELETE ON audit_subject_keys FROM adal_app;
