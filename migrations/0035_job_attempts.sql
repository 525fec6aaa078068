-- Jobs try 16 times before they are given up, not 8 (docs/workflows.md, "Jobs").
--
-- Retries wait 2 s, 4 s, 8 s … up to an hour. Eight attempts spanned about four minutes, so an
-- SMS gateway or a payment provider away for five minutes at a lunch rush left every alert and
-- automatic top-up queued meanwhile dead, for an administrator to notice. Sixteen span about
-- five hours (4,094 s of doubling, then four waits of an hour). Jobs already queued keep theirs;
-- a dead one can be sent again from the services' page.
ALTER TABLE jobs ALTER COLUMN max_attempts SET DEFAULT 16;
