-- Who paid each top-up (docs/meal-payments.md, "Returning the balance"): the guardian whose
-- payment it was, as the hold knew them (the guardian's own top-up, or their automatic top-up).
-- A balance return sends each part back to the card of its top-up; with the payer on record the
-- child's page says whose card that is. NULL for top-ups held before this migration and for
-- every other kind.
ALTER TABLE transfers ADD COLUMN paid_by uuid;
ALTER TABLE transfers ADD CONSTRAINT transfers_paid_by_top_up CHECK (paid_by IS NULL OR kind = 'top_up');
