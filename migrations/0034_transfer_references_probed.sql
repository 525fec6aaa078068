-- The transfers' references (0025) probed one by one, never by reading the city's accounts
-- (docs/meal-payments.md, "Ledger").
--
-- 0025's check asked `NOT EXISTS (SELECT FROM ledger_accounts …)` of each account a statement
-- names. The planner may answer such a subquery by hashing every account of the city, and it
-- does when the city's accounts are few next to the ids named (it prices a probe as a read
-- from disk; here every page is in memory): with 10,000 accounts, from about 30 ids on — a till
-- batch of ~15 charges or more; with 30,000 or more, not even at 60. In the benchmark's city
-- (10,033 accounts) about half of the batches sampled with auto_explain read all of them, a
-- sequential scan and a hash of 3.5–5.9 ms instead of 0.3 ms of probes, inside the batch that
-- holds its pupils' rows locked: a town's city pays it at every lunch rush.
--
-- Each distinct id is now looked up by a LATERAL probe with LIMIT 1, which the planner can only
-- run as an index probe per id. What the check refuses is unchanged.
CREATE OR REPLACE FUNCTION adal_transfer_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing record;
BEGIN
    SELECT r.what, r.id, r.transfer INTO missing
    FROM (
        SELECT DISTINCT ON (n.tenant_id, a.id) 'account' AS what, n.tenant_id, a.id, n.id AS transfer
        FROM changed_transfers n CROSS JOIN LATERAL unnest(ARRAY[n.debit_account, n.credit_account]) AS a (id)
        WHERE a.id IS NOT NULL
        UNION ALL
        SELECT DISTINCT ON (n.tenant_id, n.pupil_id) 'pupil', n.tenant_id, n.pupil_id, n.id
        FROM changed_transfers n
    ) r
    LEFT JOIN LATERAL (
        SELECT true AS found FROM ledger_accounts a
        WHERE r.what = 'account' AND a.tenant_id = r.tenant_id AND a.id = r.id
        LIMIT 1
    ) account ON true
    LEFT JOIN LATERAL (
        SELECT true AS found FROM pupils p
        WHERE r.what = 'pupil' AND p.tenant_id = r.tenant_id AND p.id = r.id
        LIMIT 1
    ) pupil ON true
    WHERE account.found IS NULL AND pupil.found IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('transfer %s names %s %s, which does not exist in its city', missing.transfer,
                missing.what, missing.id);
    END IF;
    RETURN NULL;
END
$$;
