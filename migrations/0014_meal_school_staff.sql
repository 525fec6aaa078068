-- Which school each school administrator works at (docs/meal-payments.md): a school_admin
-- registers pupils, adds guardians, refunds and reads statements only at the schools listed
-- here; akimat administrators and auditors see the whole city.
CREATE TABLE meal_school_staff (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    school_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id, school_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES meal_schools (tenant_id, id)
);
SELECT adal_isolate_tenant_table('meal_school_staff');
