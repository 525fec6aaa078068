-- The outbox job that sent each message to a guardian (NULL for a message sent outside a job).
-- The housekeeping keeps a message while its job is still waiting or dead: an administrator may
-- send a dead job again long after, and the channels then find what it sent before and do not
-- send it twice. No foreign key: finished jobs are deleted on their own schedule.
ALTER TABLE meal_notifications ADD COLUMN job_id bigint;
