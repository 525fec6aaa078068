-- Returning a pupil's balance to the payments it came from (docs/meal-payments.md, "Returning
-- the balance"): when a pupil leaves the school, or a guardian wants the money back.
--
-- A return is split over the pupil's posted top-ups, newest first, never more than what is left
-- of each (its amount less what earlier returns took from it): each part is a `balance_return`
-- transfer from the pupil's account to the provider's clearing account, naming its top-up
-- (`refers_to`), which the provider refunds to the card or account that paid it. So money a
-- guardian paid goes back to that guardian's card, whoever asks for it: in a family whose two
-- parents both pay, neither can take out what the other put in before their own.
--
-- The money leaves the pupil's account when the return is asked for (no meal can spend it
-- twice). The provider then confirms each part (`settled_at`) or reports that it failed; a
-- failed part comes back to the pupil's account as a new transfer, `balance_return_failed`,
-- naming the part (a correction, not a change of the posted one).
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check
    CHECK (kind IN ('charge', 'subsidised_charge', 'top_up', 'refund', 'balance_return', 'balance_return_failed'));

-- When the provider confirmed that a balance return reached the card (NULL until then, and for
-- every other kind).
ALTER TABLE transfers ADD COLUMN settled_at timestamptz;
ALTER TABLE transfers ADD CONSTRAINT transfers_settled_return CHECK (settled_at IS NULL OR kind = 'balance_return');

-- The parts of balance returns, each with its top-up and whether it came back (failed): what
-- the return's steps and reads ask of a part, said once. security_invoker: the caller's
-- row-level security applies through the view.
CREATE VIEW meal_return_parts WITH (security_invoker = true) AS
SELECT t.tenant_id, t.id, t.pupil_id, t.refers_to AS top_up, t.amount, t.settled_at, t.provider_reference,
    EXISTS (SELECT FROM transfers f WHERE f.tenant_id = t.tenant_id AND f.refers_to = t.id
        AND f.kind = 'balance_return_failed') AS failed
FROM transfers t
WHERE t.kind = 'balance_return';

-- Each request to return a balance, by its client-chosen id: who asked, how much, and the parts
-- it made (transfers of kind balance_return).
CREATE TABLE meal_balance_returns (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    pupil_id uuid NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    requested_by uuid,
    parts uuid[] NOT NULL CHECK (cardinality(parts) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
SELECT adal_isolate_tenant_table('meal_balance_returns');
CREATE INDEX meal_balance_returns_by_pupil ON meal_balance_returns (tenant_id, pupil_id, created_at DESC);
-- A request is written once, with its parts.
REVOKE UPDATE, DELETE, TRUNCATE ON meal_balance_returns FROM adal_app;
