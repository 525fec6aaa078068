-- The audit sequencer writes less per leaf (docs/meal-payments.md, "The server's own background
-- work"; docs/audit-log.md).
--
-- 1. A step's leaf is found from the leaf itself. Each integrated leaf of a workflow step was
-- recorded twice: its row in audit_leaves and a row (tenant, instance, sequence → leaf index) in
-- audit_step_leaves, which the sequencer reads to chain an instance's leaves and pages read to
-- link a step to its leaf. The second row cost a heap insert, its primary key and a foreign-key
-- check per leaf: measured under the meals benchmark, 17–23 µs of PostgreSQL a leaf, about a
-- third of a sequencer's pass. The instance and step sequence now are columns of the leaf (the
-- entry names both; the sequencer copies them), found through a unique index that includes the
-- leaf's index, so the next step's lookup can read the index alone. A leaf whose step already
-- has one (which the step's own key in workflow_steps rules out) keeps them empty.
ALTER TABLE audit_leaves
    ADD COLUMN instance_id uuid,
    ADD COLUMN sequence bigint CHECK (sequence >= 1),
    ADD CONSTRAINT audit_leaves_step_whole CHECK ((instance_id IS NULL) = (sequence IS NULL));

-- Each existing leaf takes its step from the table it replaces (every row once: a city's log
-- is rewritten by this migration, once). Row-level security is forced on the owner too, and
-- this is every city's rows at once, so it is lifted for the statement and forced again.
ALTER TABLE audit_leaves NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_step_leaves NO FORCE ROW LEVEL SECURITY;
UPDATE audit_leaves l SET instance_id = s.instance_id, sequence = s.sequence
FROM audit_step_leaves s
WHERE s.tenant_id = l.tenant_id AND s.leaf_index = l.leaf_index;
ALTER TABLE audit_leaves FORCE ROW LEVEL SECURITY;

CREATE UNIQUE INDEX audit_leaves_by_step ON audit_leaves (tenant_id, instance_id, sequence) INCLUDE (leaf_index);
DROP TABLE audit_step_leaves;

-- 2. The leaves' and subtrees' city checked once per statement instead of once per row. A
-- foreign key to tenants ran a query of its own for every leaf and every subtree a pass writes
-- (about 4,800 a pass at a lunch rush, 3 µs each). The same rule now holds at the end of each
-- INSERT or UPDATE statement: every city its rows name exists, looked up once per distinct id;
-- a row naming one that does not fails the statement with foreign_key_violation (23503), as
-- the key did. Nothing removes a city meanwhile: the application role may only read tenants, and
-- a city with leaves has its tree's row in audit_trees, whose foreign key stays.
ALTER TABLE audit_leaves DROP CONSTRAINT audit_leaves_tenant_id_fkey;
ALTER TABLE audit_nodes DROP CONSTRAINT audit_nodes_tenant_id_fkey;

CREATE FUNCTION adal_audit_tenant_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing uuid;
BEGIN
    SELECT n.tenant_id INTO missing
    FROM (SELECT DISTINCT tenant_id FROM changed_rows) n
    WHERE NOT EXISTS (SELECT FROM tenants t WHERE t.id = n.tenant_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('a row of %s names tenant %s, which does not exist', TG_TABLE_NAME, missing);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_leaves_tenant_inserted AFTER INSERT ON audit_leaves
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION adal_audit_tenant_references();
CREATE TRIGGER audit_leaves_tenant_updated AFTER UPDATE ON audit_leaves
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION adal_audit_tenant_references();
CREATE TRIGGER audit_nodes_tenant_inserted AFTER INSERT ON audit_nodes
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION adal_audit_tenant_references();
CREATE TRIGGER audit_nodes_tenant_updated AFTER UPDATE ON audit_nodes
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION adal_audit_tenant_references();
