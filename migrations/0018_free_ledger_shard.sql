-- A charge takes a shard of the supplier's (or the subsidy's) account that no other transaction
-- holds, instead of waiting for the random one it was given.
--
-- A shard stays locked from the charge until its step commits (the step row, the audit leaf and
-- the till's answer come after it). With as many shards as pooled connections, two charges of
-- one supplier often drew the same shard, and one waited for the other's commit: measured with
-- pg_stat_statements in `adal bench meals`, that wait was a third of the database's time.
--
-- Now the shards are tried from p_shard on, wrapping around, skipping locked ones. Only when
-- every shard is held are the account's missing shards (up to p_shards) made, and only then, if
-- all are still held, does the move wait for shard p_shard. Balances and entries are as before:
-- which shard a move lands on was always arbitrary.
CREATE OR REPLACE FUNCTION adal_ledger_move_shared(
    p_tenant uuid,
    p_kind text,
    p_owner text,
    p_amount bigint,
    p_shard smallint,
    p_shards smallint
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    moved uuid;
BEGIN
    FOR attempt IN 1..2 LOOP
        SELECT a.id INTO moved FROM ledger_accounts a
        WHERE a.tenant_id = p_tenant AND a.kind = p_kind AND a.owner = p_owner
        ORDER BY (a.shard - p_shard + 32768) % 32768
        LIMIT 1 FOR UPDATE SKIP LOCKED;
        EXIT WHEN moved IS NOT NULL;
        -- Only the missing shards: a unique check against a row another transaction is
        -- updating would wait for that transaction.
        INSERT INTO ledger_accounts (tenant_id, id, kind, owner, shard)
        SELECT p_tenant, gen_random_uuid(), p_kind, p_owner, s FROM generate_series(0, p_shards - 1) AS s
        WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts e
                          WHERE e.tenant_id = p_tenant AND e.kind = p_kind AND e.owner = p_owner AND e.shard = s)
        ON CONFLICT (tenant_id, kind, owner, shard) DO NOTHING;
    END LOOP;
    IF moved IS NULL THEN
        SELECT a.id INTO moved FROM ledger_accounts a
        WHERE a.tenant_id = p_tenant AND a.kind = p_kind AND a.owner = p_owner AND a.shard = p_shard
        FOR UPDATE;
    END IF;
    IF moved IS NULL THEN
        RAISE EXCEPTION 'ledger account % % could not be opened', p_kind, p_owner;
    END IF;
    UPDATE ledger_accounts SET balance = balance + p_amount WHERE tenant_id = p_tenant AND id = moved;
    RETURN moved;
END;
$$;
