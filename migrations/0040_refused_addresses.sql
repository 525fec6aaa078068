-- An address a gateway refused for good (a mailbox that does not exist, a number the SMS
-- aggregator will not take): messages stop going there, the owner's account page says so, and
-- confirming it again (or another) starts them again. Before, every alert to it failed its job
-- until the job died, and the other channels' messages waited on it.
ALTER TABLE user_contacts ADD COLUMN refused_at timestamptz;
ALTER TABLE user_contacts ADD CONSTRAINT user_contacts_refused_confirmed CHECK (refused_at IS NULL OR address IS NOT NULL);
