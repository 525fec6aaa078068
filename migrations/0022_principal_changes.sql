-- A notification on channel adal_principals whenever what an API token stands for may have
-- changed: its revocation, roles, owner or hash, the owner's login, name or disabling, any
-- change of a user's roles, and a deletion of any of them.
--
-- The server keeps the principals of the tokens it has seen in memory for a short while
-- (PrincipalCache, docs/meal-payments.md, "Principals kept between requests") so that a till's
-- every charge no longer looks its token up. Each server listens on the channel and drops the
-- city's remembered principals when the notification comes; the payload is the city's id, or
-- 'all' after a TRUNCATE. PostgreSQL sends a transaction's notifications when it commits and
-- sends one payload once per transaction, so a statement touching many rows costs one message.
--
-- Writing the tokens' last use (adal_token_principals, 0019) changes none of the columns named,
-- so lookups notify nothing. A new token notifies nothing either: tokens not found are never
-- remembered.
CREATE FUNCTION adal_principals_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('adal_principals', 'all');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('adal_principals', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('adal_principals', NEW.tenant_id::text);
        IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
            PERFORM pg_notify('adal_principals', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_tokens_principal_changed
    AFTER UPDATE OF tenant_id, user_id, token_hash, roles, revoked_at OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION adal_principals_changed();
CREATE TRIGGER users_principal_changed
    AFTER UPDATE OF tenant_id, id, login, display_name, disabled_at OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION adal_principals_changed();
CREATE TRIGGER user_roles_principal_changed
    AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION adal_principals_changed();

-- A TRUNCATE of any of the three announces 'all'.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_tokens', 'users', 'user_roles'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT '
            'EXECUTE FUNCTION adal_principals_changed()', t || '_truncated', t);
    END LOOP;
END
$$;
