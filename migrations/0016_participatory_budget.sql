-- The participatory budget (docs/open-budget.md): the city's register of residents by
-- district, and per district and year a round of proposals, the commission's review, one
-- ballot per resident and the results. A ballot is stored apart from who cast it: the voter
-- is kept only as a keyed hash (to refuse a second ballot), the ballot only with its receipt.

CREATE TABLE city_residents (
    tenant_id uuid NOT NULL,
    iin text NOT NULL CHECK (iin ~ '^[0-9]{12}$'),
    district text NOT NULL,
    PRIMARY KEY (tenant_id, iin),
    FOREIGN KEY (tenant_id, district) REFERENCES budget_districts (tenant_id, name)
);
SELECT adal_isolate_tenant_table('city_residents');

CREATE TABLE pb_rounds (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    district text NOT NULL,
    year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    budget_cap bigint NOT NULL CHECK (budget_cap > 0),
    ballots integer,
    counted_at timestamptz,
    PRIMARY KEY (tenant_id, instance_id),
    UNIQUE (tenant_id, district, year),
    FOREIGN KEY (tenant_id, district) REFERENCES budget_districts (tenant_id, name),
    -- Checked at commit: the step that starts an instance writes its own row after its actions.
    FOREIGN KEY (tenant_id, instance_id) REFERENCES workflow_instances (tenant_id, id) DEFERRABLE INITIALLY DEFERRED
);
SELECT adal_isolate_tenant_table('pb_rounds');

CREATE TABLE pb_projects (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    number integer NOT NULL CHECK (number >= 1),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL CHECK (length(description) <= 4000),
    cost bigint NOT NULL CHECK (cost > 0),
    object_code text,
    proposed_by uuid NOT NULL,
    status text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'eligible', 'ineligible')),
    review_note text CHECK (length(review_note) <= 1000),
    votes integer,
    selected boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, instance_id, number),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES pb_rounds (tenant_id, instance_id),
    FOREIGN KEY (tenant_id, object_code) REFERENCES budget_objects (tenant_id, code),
    FOREIGN KEY (tenant_id, proposed_by) REFERENCES users (tenant_id, id)
);
SELECT adal_isolate_tenant_table('pb_projects');

-- Who has voted, as HMAC-SHA256 of the IIN under the city's sealing key: enough to refuse a
-- second ballot, and nothing that names the person or links them to their ballot.
CREATE TABLE pb_voters (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    voter bytea NOT NULL CHECK (length(voter) = 32),
    PRIMARY KEY (tenant_id, instance_id, voter),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES pb_rounds (tenant_id, instance_id)
);
SELECT adal_isolate_tenant_table('pb_voters');

-- The ballots: the projects chosen, under the receipt (SHA-256 of a nonce and the choices)
-- that the vote's step input, and so its audit leaf, commits to. No voter, no time.
CREATE TABLE pb_ballots (
    tenant_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    receipt bytea NOT NULL CHECK (length(receipt) = 32),
    choices integer[] NOT NULL CHECK (cardinality(choices) >= 1),
    PRIMARY KEY (tenant_id, instance_id, receipt),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES pb_rounds (tenant_id, instance_id)
);
SELECT adal_isolate_tenant_table('pb_ballots');
