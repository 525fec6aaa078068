-- School-meal supplier competitions (docs/meal-competitions.md): suppliers and their documents,
-- each competition's lot, commission, sealed bids, marks and deliveries, and the open
-- contracting (OCDS) releases published at each stage.

CREATE TABLE meal_suppliers (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    bin text NOT NULL CHECK (bin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    -- The account that registered the supplier and bids and signs for it.
    user_id uuid NOT NULL,
    registered_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, bin),
    UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
SELECT adal_isolate_tenant_table('meal_suppliers');

-- Registration documents, stored by content hash; public (they are the supplier's credentials).
CREATE TABLE meal_supplier_documents (
    tenant_id uuid NOT NULL,
    bin text NOT NULL,
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    kind text NOT NULL CHECK (kind IN ('registration', 'sanitary_permit', 'staff', 'other')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    media_type text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size integer NOT NULL CHECK (size BETWEEN 1 AND 2097152),
    content bytea NOT NULL,
    uploaded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, bin, sha256),
    FOREIGN KEY (tenant_id, bin) REFERENCES meal_suppliers (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('meal_supplier_documents');

-- One competition = one workflow instance = one lot (one OCDS contracting process).
CREATE TABLE meal_competitions (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    instance_id uuid NOT NULL,
    ocid text NOT NULL CHECK (ocid ~ '^ocds-[a-z0-9]{6}-'),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    buyer_bin text NOT NULL CHECK (buyer_bin ~ '^[0-9]{12}$'),
    buyer_name text NOT NULL CHECK (length(buyer_name) BETWEEN 1 AND 300),
    ceiling_price bigint NOT NULL CHECK (ceiling_price > 0),
    school_days integer NOT NULL CHECK (school_days BETWEEN 1 AND 366),
    meals_per_day integer NOT NULL CHECK (meals_per_day BETWEEN 1 AND 5),
    period_start date NOT NULL,
    period_end date NOT NULL CHECK (period_end > period_start),
    created_at timestamptz NOT NULL,
    -- The bidding round: a failed competition may be announced again.
    round integer NOT NULL DEFAULT 1,
    announced_at timestamptz,
    bid_deadline timestamptz,
    opened_at timestamptz,
    -- The award: the winning bid (none for a single-source award), its supplier and price.
    winner_bid integer,
    award_supplier_bin text CHECK (award_supplier_bin ~ '^[0-9]{12}$'),
    award_price bigint CHECK (award_price > 0),
    awarded_at timestamptz,
    -- Bids whose proposed award was withdrawn after an upheld complaint.
    withdrawn_awards integer[] NOT NULL DEFAULT '{}',
    complaints_until timestamptz,
    supplier_signed_at timestamptz,
    contract_signed_at timestamptz,
    contract_number text CHECK (length(contract_number) <= 50),
    closed_at timestamptz,
    -- How the process ended when it did not end in a contract: cancelled, failed (unsuccessful).
    outcome text CHECK (outcome IN ('cancelled', 'unsuccessful')),
    PRIMARY KEY (tenant_id, instance_id),
    UNIQUE (tenant_id, ocid)
);
SELECT adal_isolate_tenant_table('meal_competitions');

CREATE TABLE meal_competition_schools (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    school_bin text NOT NULL CHECK (school_bin ~ '^[0-9]{12}$'),
    school_name text NOT NULL CHECK (length(school_name) BETWEEN 1 AND 300),
    pupils_1_4 integer NOT NULL CHECK (pupils_1_4 BETWEEN 0 AND 10000),
    pupils_5_9 integer NOT NULL CHECK (pupils_5_9 BETWEEN 0 AND 10000),
    pupils_10_11 integer NOT NULL CHECK (pupils_10_11 BETWEEN 0 AND 10000),
    PRIMARY KEY (tenant_id, instance_id, school_bin),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES meal_competitions (tenant_id, instance_id)
);
SELECT adal_isolate_tenant_table('meal_competition_schools');

CREATE TABLE meal_commission_members (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    user_id uuid NOT NULL,
    iin text NOT NULL CHECK (iin ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    seat text NOT NULL CHECK (seat IN ('official', 'parent', 'ngo', 'deputy')),
    PRIMARY KEY (tenant_id, instance_id, user_id),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES meal_competitions (tenant_id, instance_id)
);
SELECT adal_isolate_tenant_table('meal_commission_members');

-- A bid: until the competition's bids are opened only the commitment (SHA-256 of the bid's
-- canonical bytes, which include a random nonce) and the sealed bytes are stored; opening
-- fills in what the bid says and whether it matched its commitment.
CREATE TABLE meal_bids (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    number integer NOT NULL CHECK (number BETWEEN 1 AND 1000),
    round integer NOT NULL,
    supplier_bin text NOT NULL,
    commitment bytea NOT NULL CHECK (length(commitment) = 32),
    sealed bytea NOT NULL,
    submitted_at timestamptz NOT NULL,
    step_sequence bigint NOT NULL,
    opened_at timestamptz,
    matches_commitment boolean,
    price_per_meal bigint CHECK (price_per_meal > 0),
    claims jsonb,
    PRIMARY KEY (tenant_id, instance_id, number),
    UNIQUE (tenant_id, instance_id, round, supplier_bin),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES meal_competitions (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, supplier_bin) REFERENCES meal_suppliers (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('meal_bids');

-- A bid's documents, written only when the bid is opened.
CREATE TABLE meal_bid_documents (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    bid_number integer NOT NULL,
    position integer NOT NULL CHECK (position BETWEEN 1 AND 10),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    media_type text NOT NULL,
    size integer NOT NULL,
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    content bytea NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, bid_number, position),
    FOREIGN KEY (tenant_id, instance_id, bid_number) REFERENCES meal_bids (tenant_id, instance_id, number)
);
SELECT adal_isolate_tenant_table('meal_bid_documents');

-- One member's marks (0–10 per Order 598 criterion, in the order of docs/meal-competitions.md)
-- for one bid; a member may mark a bid again until the award is proposed.
CREATE TABLE meal_scores (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    bid_number integer NOT NULL,
    member_id uuid NOT NULL,
    marks smallint[] NOT NULL CHECK (cardinality(marks) = 6 AND 0 <= ALL (marks) AND 10 >= ALL (marks)),
    scored_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, bid_number, member_id),
    FOREIGN KEY (tenant_id, instance_id, bid_number) REFERENCES meal_bids (tenant_id, instance_id, number),
    FOREIGN KEY (tenant_id, instance_id, member_id) REFERENCES meal_commission_members (tenant_id, instance_id, user_id)
);
SELECT adal_isolate_tenant_table('meal_scores');

-- What the supplier delivered, month by month, as reported under the contract.
CREATE TABLE meal_deliveries (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    month date NOT NULL CHECK (extract(day FROM month) = 1),
    meals integer NOT NULL CHECK (meals BETWEEN 1 AND 100000000),
    amount bigint NOT NULL CHECK (amount > 0),
    reported_at timestamptz NOT NULL,
    step_sequence bigint NOT NULL,
    PRIMARY KEY (tenant_id, instance_id, month),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES meal_competitions (tenant_id, instance_id)
);
SELECT adal_isolate_tenant_table('meal_deliveries');

-- A direct award to keep children fed while a competition runs (at most two months).
CREATE TABLE meal_direct_awards (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    ocid text NOT NULL CHECK (ocid ~ '^ocds-[a-z0-9]{6}-'),
    competition_id uuid NOT NULL,
    supplier_bin text NOT NULL,
    price_per_meal bigint NOT NULL CHECK (price_per_meal > 0),
    starts_on date NOT NULL,
    ends_on date NOT NULL CHECK (ends_on >= starts_on),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    awarded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, instance_id),
    UNIQUE (tenant_id, ocid),
    FOREIGN KEY (tenant_id, competition_id) REFERENCES meal_competitions (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, supplier_bin) REFERENCES meal_suppliers (tenant_id, bin)
);
SELECT adal_isolate_tenant_table('meal_direct_awards');

-- Every OCDS release as published, never changed: written by the step that made it.
CREATE TABLE ocds_releases (
    tenant_id uuid NOT NULL,
    release_id text NOT NULL CHECK (length(release_id) BETWEEN 1 AND 200),
    ocid text NOT NULL,
    instance_id uuid NOT NULL,
    step_sequence bigint NOT NULL,
    published_at timestamptz NOT NULL,
    release jsonb NOT NULL,
    PRIMARY KEY (tenant_id, release_id)
);
SELECT adal_isolate_tenant_table('ocds_releases');
CREATE INDEX ocds_releases_by_date ON ocds_releases (tenant_id, published_at, release_id);
CREATE INDEX ocds_releases_by_ocid ON ocds_releases (tenant_id, ocid, published_at);
