-- Payouts by bank transfer (docs/meal-payments.md, "What cannot go back to a card"): card
-- refunds have a time limit at the acquirer, and a card may be closed, so the provider can fail
-- a balance return's part for good. Its webhook now says why; a part that failed for a lasting
-- reason marks its top-up as one that no longer goes back to a card, and what is left of it is
-- paid out by bank transfer from the school's office or the akimat, to the account the guardian
-- who paid it names.
--
-- A payout is split over such top-ups newest first, as a return is: each part is a `bank_payout`
-- transfer from the pupil's account to the clearing account of bank transfers (owner
-- 'bank_transfer'), naming its top-up. The office records that it paid (the bank's reference;
-- each part's `settled_at`) or that the bank sent the money back (each part comes back to the
-- pupil's account as a `bank_payout_returned` transfer naming it).
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check
    CHECK (kind IN ('charge', 'subsidised_charge', 'top_up', 'refund', 'balance_return', 'balance_return_failed',
        'bank_payout', 'bank_payout_returned'));
ALTER TABLE transfers DROP CONSTRAINT transfers_settled_return;
ALTER TABLE transfers ADD CONSTRAINT transfers_settled_return
    CHECK (settled_at IS NULL OR kind IN ('balance_return', 'bank_payout'));

-- The parts of returns to cards and of payouts, each with its top-up, whether it came back and,
-- for a part the provider failed, the reason it gave (`balance_return_failed` transfers keep it
-- in `reason`). Replaces the view of migration 0026; its columns stay first and as they were.
CREATE OR REPLACE VIEW meal_return_parts WITH (security_invoker = true) AS
SELECT t.tenant_id, t.id, t.pupil_id, t.refers_to AS top_up, t.amount, t.settled_at, t.provider_reference,
    f.id IS NOT NULL AS failed, t.kind, f.reason AS failure
FROM transfers t
LEFT JOIN LATERAL (
    SELECT c.id, c.reason FROM transfers c
    WHERE c.tenant_id = t.tenant_id AND c.refers_to = t.id AND c.kind IN ('balance_return_failed', 'bank_payout_returned')
    LIMIT 1
) f ON true
WHERE t.kind IN ('balance_return', 'bank_payout');

-- Each payout by its client-chosen id: the account it goes to and whose it is, who asked, the
-- parts it made, and then either when and under which reference the office paid it or when and
-- why the bank sent it back. The account's number and holder are kept here, not in the step
-- (whose input commits to them by `payee`, a salted SHA-256), so the pupil's other guardians
-- and the audit log never hold them.
CREATE TABLE meal_payouts (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    pupil_id uuid NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    iban text NOT NULL CHECK (iban ~ '^KZ[0-9]{2}[0-9A-Z]{16}$'),
    holder text NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    -- The 16 random bytes the step's `payee` commitment was salted with.
    salt bytea NOT NULL CHECK (length(salt) = 16),
    requested_by uuid,
    parts uuid[] NOT NULL CHECK (cardinality(parts) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    paid_at timestamptz,
    paid_by uuid,
    bank_reference text CHECK (length(bank_reference) BETWEEN 1 AND 50),
    returned_at timestamptz,
    returned_by uuid,
    returned_reason text CHECK (length(returned_reason) BETWEEN 1 AND 200),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id),
    CHECK ((paid_at IS NULL) = (bank_reference IS NULL)),
    CHECK ((returned_at IS NULL) = (returned_reason IS NULL)),
    CHECK (paid_at IS NULL OR returned_at IS NULL)
);
SELECT adal_isolate_tenant_table('meal_payouts');
CREATE INDEX meal_payouts_by_pupil ON meal_payouts (tenant_id, pupil_id, created_at DESC);
-- The office's list of payouts still to make.
CREATE INDEX meal_payouts_waiting ON meal_payouts (tenant_id, created_at) WHERE paid_at IS NULL AND returned_at IS NULL;
-- A payout is written once; only its outcome is recorded later, once.
REVOKE UPDATE, DELETE, TRUNCATE ON meal_payouts FROM adal_app;
GRANT UPDATE (paid_at, paid_by, bank_reference, returned_at, returned_by, returned_reason) ON meal_payouts TO adal_app;
