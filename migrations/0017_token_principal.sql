-- The principal behind an API token in one statement.
--
-- Every API request starts by looking up its bearer token. Done as a transaction that costs
-- BEGIN, set_config, the read and COMMIT, and a second statement when the token's last use is
-- stale; as this function it is one round trip. Like adal_audit_subtrees (0004) it runs as the
-- caller, so row-level security stays on: it sets the tenant for its own statements and puts
-- back whatever tenant was set before.
--
-- A token's last use is written at most once per p_stale_before window, and skipped when
-- another request of the same token is writing it, so requests of one till never wait for each
-- other here.
CREATE FUNCTION adal_token_principal(p_tenant uuid, p_hash bytea, p_now timestamptz, p_stale_before timestamptz)
RETURNS TABLE (token_id uuid, user_id uuid, login text, display_name text, roles text[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    prior text := current_setting('app.tenant_id', true);
    found record;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT t.id AS token_id, u.id AS user_id, u.login, u.display_name,
        ARRAY(SELECT r.role FROM user_roles r
              WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = ANY (t.roles)
              ORDER BY r.role) AS roles,
        t.last_used_at IS NULL OR t.last_used_at < p_stale_before AS stale
    INTO found
    FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
    WHERE t.tenant_id = p_tenant AND t.token_hash = p_hash AND t.revoked_at IS NULL
      AND u.disabled_at IS NULL;
    IF found.token_id IS NOT NULL THEN
        IF found.stale THEN
            UPDATE api_tokens SET last_used_at = p_now
            WHERE tenant_id = p_tenant AND id IN (
                SELECT a.id FROM api_tokens a WHERE a.tenant_id = p_tenant AND a.id = found.token_id
                FOR UPDATE SKIP LOCKED);
        END IF;
        token_id := found.token_id;
        user_id := found.user_id;
        login := found.login;
        display_name := found.display_name;
        roles := found.roles;
        RETURN NEXT;
    END IF;
    PERFORM set_config('app.tenant_id', coalesce(prior, ''), true);
END
$$;
