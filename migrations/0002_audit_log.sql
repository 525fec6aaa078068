-- The audit log: one append-only RFC 6962 Merkle tree per tenant (see docs/audit-log.md).
--
-- A workflow step queues its leaf in audit_queue inside its own transaction; the sequencer
-- moves queued leaves into audit_leaves in batches, with gapless indexes, and stores every
-- completed subtree in audit_nodes, so any proof reads O(log n) rows.

-- Leaves waiting for the sequencer, in the order their steps committed.
CREATE TABLE audit_queue (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id bigint GENERATED ALWAYS AS IDENTITY,
    entry bytea NOT NULL CHECK (length(entry) BETWEEN 1 AND 4096),
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
SELECT adal_isolate_tenant_table('audit_queue');

-- Integrated leaves: the entry's canonical bytes and SHA-256(0x00 ‖ entry).
CREATE TABLE audit_leaves (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    leaf_index bigint NOT NULL CHECK (leaf_index >= 0),
    entry bytea NOT NULL CHECK (length(entry) BETWEEN 1 AND 4096),
    leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
    integrated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, leaf_index)
);
SELECT adal_isolate_tenant_table('audit_leaves');

-- Complete subtrees above the leaves: level L, index i covers leaves [i·2^L, (i+1)·2^L).
CREATE TABLE audit_nodes (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
    node_index bigint NOT NULL CHECK (node_index >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (tenant_id, level, node_index)
);
SELECT adal_isolate_tenant_table('audit_nodes');

-- Each tenant's tree size and root after the last integrated batch.
CREATE TABLE audit_trees (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    size bigint NOT NULL CHECK (size >= 0),
    root bytea NOT NULL CHECK (length(root) = 32),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id)
);
SELECT adal_isolate_tenant_table('audit_trees');

-- The log only grows: the server may add leaves and nodes, never change or remove them.
REVOKE UPDATE, DELETE ON audit_leaves, audit_nodes FROM adal_app;
