-- Where a user can be reached outside the pages: an email address and a mobile number, each
-- used only once its owner has typed back a code sent to it (docs/identity.md, "Contact
-- addresses").
--
-- Until now the notification channels were handed a user's id and nothing else, so no real
-- email or SMS gateway could have been put behind them. A row per user and channel holds the
-- confirmed address (messages go there) and, while a new one waits for its code, that one
-- beside it: the confirmed address keeps working until the new one is confirmed. The code is
-- kept only as SHA-256 of the code and the address it was sent to; it lasts 15 minutes and
-- five wrong tries. Codes are counted per row within an hour, so a stranger's number cannot be
-- sent code after code.
CREATE TABLE user_contacts (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'sms')),
    address text CHECK (length(address) BETWEEN 3 AND 254),
    confirmed_at timestamptz,
    pending text CHECK (length(pending) BETWEEN 3 AND 254),
    code_sha256 bytea CHECK (octet_length(code_sha256) = 32),
    code_expires_at timestamptz,
    code_tries integer NOT NULL DEFAULT 0 CHECK (code_tries >= 0),
    code_sent_at timestamptz,
    codes_sent integer NOT NULL DEFAULT 0 CHECK (codes_sent >= 0),
    codes_since timestamptz,
    PRIMARY KEY (tenant_id, user_id, channel),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    CHECK ((address IS NULL) = (confirmed_at IS NULL)),
    CHECK ((pending IS NULL) = (code_sha256 IS NULL) AND (pending IS NULL) = (code_expires_at IS NULL))
);
SELECT adal_isolate_tenant_table('user_contacts');

-- What the simulated gateways sent now names the address it went to, and every message is also
-- kept for the guardian's page (channel 'page'), whether or not any address is confirmed: the
-- page showed the email channel's copies, which a guardian without a confirmed email address
-- no longer has. The page reads 'page' rows, and the email rows from before this migration
-- (those without an address).
ALTER TABLE meal_notifications ADD COLUMN address text CHECK (length(address) BETWEEN 3 AND 254);
ALTER TABLE meal_notifications DROP CONSTRAINT meal_notifications_channel_check;
ALTER TABLE meal_notifications ADD CONSTRAINT meal_notifications_channel_check
    CHECK (channel IN ('email', 'sms', 'page'));
CREATE INDEX meal_notifications_user ON meal_notifications (tenant_id, user_id, sent_at DESC);
