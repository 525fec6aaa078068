-- The housekeeping forgets a payment provider's event ids after 90 days (TopUps.retentionRules):
-- a delivery again after that finds its top-up or refund no longer pending and changes nothing.
-- This index lets it find the old ones without reading the whole table.
CREATE INDEX provider_events_received ON provider_events (tenant_id, received_at);
