-- The transfers' references (0025) probed one by one, never by reading the city's accounts
-- (docs/meal-payments.md, "Ledger").
--
-- 0025's check asked `NOT EXISTS (SELECT FROM ledger_accounts …)` of each account a statement
-- names. The planner may answer such a subquery with a hash of the whole table, and for a
-- statement of a few dozen rows it often did: a till batch's INSERT of ~30 charges read all
-- 10,033 accounts of the benchmark's city (a sequential scan, 2.3 ms, then the hash) in about
-- half of the batches sampled with auto_explain, 3.5–5.9 ms of the check instead of 0.3 — a cost
-- that grows with the city, paid inside the batch that holds its pupils' rows locked.
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
