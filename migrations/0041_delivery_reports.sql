-- What became of each message a gateway took: the gateway's own id for it, so its delivery
-- report can be asked for, and the report's final word once it comes (delivered, partly
-- delivered, undelivered, expired, rejected). A message with no id (a simulated channel, email)
-- is never asked about; one whose report has not come within two days is asked no more and
-- stays without one. When it was last asked spaces the questions out as the message ages.
ALTER TABLE meal_notifications ADD COLUMN gateway_id text CHECK (length(gateway_id) BETWEEN 1 AND 64);
ALTER TABLE meal_notifications ADD COLUMN delivery text
    CHECK (delivery IN ('delivered', 'partial', 'undelivered', 'expired', 'rejected'));
ALTER TABLE meal_notifications ADD COLUMN delivery_at timestamptz;
ALTER TABLE meal_notifications ADD COLUMN delivery_asked_at timestamptz;
ALTER TABLE meal_notifications ADD CONSTRAINT meal_notifications_delivery_reported
    CHECK ((delivery IS NULL) = (delivery_at IS NULL) AND (delivery IS NULL OR gateway_id IS NOT NULL));
CREATE INDEX meal_notifications_awaiting_report ON meal_notifications (tenant_id, channel, sent_at)
    WHERE gateway_id IS NOT NULL AND delivery IS NULL;
CREATE INDEX meal_notifications_gateway_id ON meal_notifications (tenant_id, channel, gateway_id)
    WHERE gateway_id IS NOT NULL;
