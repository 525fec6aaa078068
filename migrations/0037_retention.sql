-- Rows a city keeps only for a while (README.md, "What is kept and for how long"):
-- expired sessions, old sign-in failures, addresses that never got their code, finished jobs
-- and the messages sent to guardians. The server's housekeeping deletes them (or empties a
-- code that expired) a bounded batch at a time, city by city; these indexes let it find them
-- without reading the whole table. Each is on rows that are written once or rarely: a job's
-- row is indexed here when it is finished, not while it waits.
CREATE INDEX sessions_expiry ON sessions (tenant_id, expires_at);
CREATE INDEX login_throttle_last_failure ON login_throttle (tenant_id, last_failure_at);
CREATE INDEX jobs_finished ON jobs (tenant_id, finished_at) WHERE status IN ('done', 'cancelled');
CREATE INDEX meal_notifications_sent ON meal_notifications (tenant_id, sent_at);
CREATE INDEX user_contacts_codes ON user_contacts (tenant_id, code_expires_at) WHERE pending IS NOT NULL;
