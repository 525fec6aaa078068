-- Audit reads that answer in one statement.
--
-- Inclusion proofs by leaf hash (RFC 6962 get-proof-by-hash) look a leaf up by its hash.
CREATE INDEX audit_leaves_by_hash ON audit_leaves (tenant_id, leaf_hash);

-- The stored leaf hashes and subtrees a proof needs, for one tenant, in one statement: the
-- function sets the tenant for its own reads (row-level security stays on; it runs as the
-- caller) and puts back whatever tenant was set before, so a proof costs one round trip
-- instead of BEGIN, set_config, the read and COMMIT.
CREATE FUNCTION adal_audit_subtrees(
    p_tenant uuid,
    p_leaves bigint[],
    p_levels int[],
    p_indexes bigint[]
) RETURNS TABLE (level int, node_index bigint, hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    prior text := current_setting('app.tenant_id', true);
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    RETURN QUERY
        SELECT 0, l.leaf_index, l.leaf_hash FROM audit_leaves l
        WHERE l.tenant_id = p_tenant AND l.leaf_index = ANY (p_leaves)
        UNION ALL
        SELECT n.level::int, n.node_index, n.hash FROM audit_nodes n
        JOIN unnest(p_levels, p_indexes) AS w (level, node_index)
          ON n.level = w.level AND n.node_index = w.node_index
        WHERE n.tenant_id = p_tenant;
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;

-- The first leaf with a given hash among the first p_size leaves (NULL when there is none), in
-- one statement in the same way.
CREATE FUNCTION adal_audit_leaf_by_hash(p_tenant uuid, p_hash bytea, p_size bigint)
RETURNS TABLE (leaf_index bigint)
LANGUAGE plpgsql AS $$
DECLARE
    prior text := current_setting('app.tenant_id', true);
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    RETURN QUERY
        SELECT min(l.leaf_index) FROM audit_leaves l
        WHERE l.tenant_id = p_tenant AND l.leaf_hash = p_hash AND l.leaf_index < p_size;
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;
