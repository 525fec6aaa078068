-- Each table's tenant policy reads the transaction's tenant once per statement instead of once
-- per row (docs/meal-payments.md, "The tenant read once a statement").
--
-- The policy compared tenant_id with NULLIF(current_setting('app.tenant_id', true), '')::uuid:
-- an expression PostgreSQL evaluates wherever the policy's condition is checked — for every row
-- an index probe or a scan returns, every row inserted or updated (WITH CHECK), and on every
-- rescan of a probe inside a loop (a LATERAL lookup per charge, a NOT EXISTS per transfer in the
-- references trigger). Each evaluation looks the setting up by name and parses its text as a
-- uuid. Profiled under the meals benchmark, the parse alone (uuid_in and the hex conversion
-- under it) was about 5 % of PostgreSQL's CPU.
--
-- As a scalar subquery the same expression is an InitPlan: evaluated once when the statement
-- first needs it, then a parameter. Within a statement the tenant does not change (the functions
-- that set it for their own reads do so in statements of their own and put back the one set
-- before), so every row is judged as before; an unset tenant ('') still matches no row.
-- The function now also replaces a policy the table has, so it serves the tables already
-- isolated as well as new ones.
CREATE OR REPLACE FUNCTION adal_isolate_tenant_table(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s '
        'USING (tenant_id = (SELECT NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)) '
        'WITH CHECK (tenant_id = (SELECT NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid))',
        target);
END
$$;

SELECT adal_isolate_tenant_table(polrelid::regclass)
FROM pg_policy WHERE polname = 'tenant_isolation' ORDER BY polrelid;
