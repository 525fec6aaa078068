-- The rule on a workflow instance's definition hash, checked without a bounded repetition
-- (docs/meal-payments.md, "A regular expression on every step").
--
-- PostgreSQL checks every CHECK constraint of a row on each UPDATE, whichever columns change, and
-- every step of every service updates its instance's row. `definition_sha256 ~ '^[0-9a-f]{64}$'`
-- cost about 7.6 microseconds a row on this machine (200,000 rows: 1.5 s): PostgreSQL's regular
-- expressions unroll `{64}` into 64 states and build their automaton's states anew on each call.
-- In a profile of the school-meal benchmark it was 2.8 % of PostgreSQL's CPU. The same rule —
-- exactly 64 characters, each a digit or a lower-case letter from a to f — as a length and a
-- search for any other character takes about 0.55 microseconds a row.
ALTER TABLE workflow_instances
    DROP CONSTRAINT workflow_instances_definition_sha256_check,
    ADD CONSTRAINT workflow_instances_definition_sha256_check
        CHECK (length(definition_sha256) = 64 AND definition_sha256 !~ '[^0-9a-f]');
