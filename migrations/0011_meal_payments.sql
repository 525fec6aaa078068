-- Cashless school meals (docs/meal-payments.md): schools with their canteen contract price,
-- pupils and guardians, tills, and a double-entry ledger in tiyn.

CREATE TABLE meal_schools (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    bin text NOT NULL CHECK (bin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    -- The canteen's supplier and the contract's price per meal (set by an administrator until
    -- the school-meal competition service supplies it).
    supplier_bin text CHECK (supplier_bin ~ '^[0-9]{12}$'),
    price_per_meal bigint CHECK (price_per_meal > 0),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('meal_schools');

-- Ledger accounts. A pupil's account is one row and never goes below zero. The shared accounts
-- (the city's subsidy, each supplier's payable, the provider's clearing) are split into shards:
-- a transfer touches one shard chosen at random, so no single row is locked by every charge;
-- the account's balance is the sum of its shards.
CREATE TABLE ledger_accounts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('pupil', 'subsidy', 'supplier', 'clearing')),
    -- The pupil, the supplier's BIN or the provider's name; '' for the city's subsidy.
    owner text NOT NULL,
    shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 63),
    balance bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, owner, shard),
    CHECK (kind <> 'pupil' OR balance >= 0)
);
SELECT adal_isolate_tenant_table('ledger_accounts');
ALTER TABLE ledger_accounts SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01);

CREATE TABLE pupils (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    school_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    grade smallint NOT NULL CHECK (grade BETWEEN 0 AND 12),
    -- What the till reads: the card number or the QR code's text.
    card text NOT NULL CHECK (length(card) BETWEEN 4 AND 64),
    -- Set for pupils whose meals the city pays (the category's name); NULL otherwise.
    free_meal_category text CHECK (length(free_meal_category) BETWEEN 1 AND 100),
    allergens text[] NOT NULL DEFAULT '{}',
    daily_limit bigint NOT NULL CHECK (daily_limit > 0),
    account_id uuid NOT NULL,
    -- The pupil's meal account as a workflow instance: every charge, top-up and refund is a step.
    instance_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, card),
    UNIQUE (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES meal_schools (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id)
);
SELECT adal_isolate_tenant_table('pupils');

-- Guardians (accounts with the parent role) and their children: several each way.
CREATE TABLE guardians (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    pupil_id uuid NOT NULL,
    -- Auto top-up: when the balance falls under the threshold, top up by the amount.
    auto_threshold bigint CHECK (auto_threshold > 0),
    auto_amount bigint CHECK (auto_amount > 0),
    low_balance_alert bigint CHECK (low_balance_alert > 0),
    PRIMARY KEY (tenant_id, user_id, pupil_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
SELECT adal_isolate_tenant_table('guardians');
CREATE INDEX guardians_by_pupil ON guardians (tenant_id, pupil_id);

-- Which school each till account charges for.
CREATE TABLE meal_tills (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    school_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES meal_schools (tenant_id, id)
);
SELECT adal_isolate_tenant_table('meal_tills');

-- Every transfer, by its client-chosen id. Immutable once posted or declined: a correction is a
-- new transfer (a refund names the charge it corrects). A pending top-up is posted or voided by
-- the provider.
CREATE TABLE transfers (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('charge', 'subsidised_charge', 'top_up', 'refund')),
    status text NOT NULL CHECK (status IN ('posted', 'declined', 'pending', 'voided')),
    -- The accounts moved; both set exactly when posted (a declined charge or a pending top-up
    -- moved nothing).
    debit_account uuid,
    credit_account uuid,
    amount bigint NOT NULL CHECK (amount > 0),
    pupil_id uuid NOT NULL,
    school_id uuid,
    items jsonb NOT NULL DEFAULT '[]',
    reason text,
    refers_to uuid,
    -- SHA-256 of the request that created it: the same id with another body is refused.
    request_hash bytea NOT NULL,
    -- The provider's reference of a top-up.
    provider_reference text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Day in Kazakhstan, for the daily limit and the city's daily figures.
    local_day date NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK ((status = 'posted') = (debit_account IS NOT NULL AND credit_account IS NOT NULL)),
    FOREIGN KEY (tenant_id, debit_account) REFERENCES ledger_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, credit_account) REFERENCES ledger_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, pupil_id) REFERENCES pupils (tenant_id, id)
);
SELECT adal_isolate_tenant_table('transfers');
CREATE INDEX transfers_by_pupil ON transfers (tenant_id, pupil_id, created_at DESC);
CREATE INDEX transfers_by_day ON transfers (tenant_id, local_day, school_id) WHERE status = 'posted';
CREATE INDEX transfers_refunds ON transfers (tenant_id, refers_to) WHERE refers_to IS NOT NULL;

-- Provider webhooks already handled, so a duplicate is recognised.
CREATE TABLE provider_events (
    tenant_id uuid NOT NULL,
    provider text NOT NULL,
    event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 100),
    received_at timestamptz NOT NULL DEFAULT now(),
    outcome text NOT NULL,
    PRIMARY KEY (tenant_id, provider, event_id)
);
SELECT adal_isolate_tenant_table('provider_events');

-- Messages sent to guardians (low balance, auto top-up), by channel: what the email and SMS
-- adapters delivered, or, with the simulated adapters, would have.
CREATE TABLE meal_notifications (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'sms')),
    message text NOT NULL CHECK (length(message) BETWEEN 1 AND 500),
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
SELECT adal_isolate_tenant_table('meal_notifications');

-- A pupil with their school and balance, as the API looks them up (by card, id, instance or
-- guardian). security_invoker: the caller's row-level security applies through the view.
CREATE VIEW meal_pupil_refs WITH (security_invoker = true) AS
SELECT p.tenant_id, p.id, p.instance_id, p.card, p.name, s.bin AS school_bin, s.name AS school_name, a.balance,
    p.free_meal_category, p.daily_limit
FROM pupils p
JOIN meal_schools s ON s.tenant_id = p.tenant_id AND s.id = p.school_id
JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id;
