-- What the online check of a sick-leave token needs, in one statement: the key its header
-- names (if the city trusts it) and the standing of the version it claims. The function sets the
-- tenant for its own reads (row-level security stays on) and restores the previous setting, as
-- adal_audit_subtrees does.
CREATE FUNCTION adal_sick_leave_check(
    p_tenant uuid,
    p_key_id bytea,
    p_certificate bytea,
    p_version integer,
    p_status_index integer
) RETURNS TABLE (
    public_key bytea,
    algorithm smallint,
    clinic_bin text,
    valid_from timestamptz,
    valid_until timestamptz,
    certificate_status text,
    current_version integer,
    current_end text
)
LANGUAGE plpgsql AS $$
DECLARE
    prior text := current_setting('app.tenant_id', true);
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    RETURN QUERY
        SELECT k.public_key, k.algorithm, c.bin, k.valid_from, k.valid_until, s.status, s.current_version, s.period_end
        FROM clinic_keys k
        JOIN clinics c ON c.tenant_id = k.tenant_id AND c.id = k.clinic_id
        LEFT JOIN LATERAL (
            SELECT cert.status, cert.current_version, cert.period_end::text AS period_end
            FROM certificates cert
            JOIN certificate_versions v ON v.tenant_id = cert.tenant_id AND v.certificate_id = cert.id
            WHERE cert.tenant_id = p_tenant AND cert.id = p_certificate
              AND v.version = p_version AND v.status_index = p_status_index
        ) s ON true
        WHERE k.tenant_id = p_tenant AND k.key_id = p_key_id AND k.removed_at IS NULL;
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;
