-- The principals behind several API tokens of one city in one statement.
--
-- Requests that arrive while the server is looking up tokens wait and are then looked up
-- together (the server's BatchQueue), so at a canteen's rush hour one round trip serves the
-- tokens of many requests instead of one each. Otherwise as adal_token_principal (0017), which
-- this replaces: it runs as the caller with row-level security on, sets the tenant for its own
-- statements and puts back whatever was set before; a token's stale last use is written at most
-- once per p_stale_before window, skipped while another request of the token is writing it.
--
-- One row per hash that names a live token of an enabled account; other hashes get no row.
CREATE FUNCTION adal_token_principals(
    p_tenant uuid,
    p_hashes bytea[],
    p_now timestamptz,
    p_stale_before timestamptz
) RETURNS TABLE (token_hash bytea, token_id uuid, user_id uuid, login text, display_name text, roles text[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    prior text := current_setting('app.tenant_id', true);
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    RETURN QUERY
    SELECT t.token_hash, t.id, u.id, u.login, u.display_name,
        ARRAY(SELECT r.role FROM user_roles r
              WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = ANY (t.roles)
              ORDER BY r.role)
    FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
    WHERE t.tenant_id = p_tenant AND t.token_hash = ANY (p_hashes) AND t.revoked_at IS NULL
      AND u.disabled_at IS NULL;
    UPDATE api_tokens SET last_used_at = p_now
    WHERE tenant_id = p_tenant AND id IN (
        SELECT a.id FROM api_tokens a JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.user_id
        WHERE a.tenant_id = p_tenant AND a.token_hash = ANY (p_hashes) AND a.revoked_at IS NULL
          AND u.disabled_at IS NULL AND (a.last_used_at IS NULL OR a.last_used_at < p_stale_before)
        FOR UPDATE OF a SKIP LOCKED);
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;

DROP FUNCTION adal_token_principal(uuid, bytea, timestamptz, timestamptz);
