-- Which school of the registry each school administrator works at (docs/principal-rotation.md):
-- a school_admin reads the rotations of, and confirms the handover at, only the schools listed
-- here; the akimat, the commission and auditors see the whole city. (Meal payments keep their own
-- list, meal_school_staff, over the schools whose canteens charge.)
CREATE TABLE school_staff (
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    school_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id, school_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
SELECT adal_isolate_tenant_table('school_staff');
