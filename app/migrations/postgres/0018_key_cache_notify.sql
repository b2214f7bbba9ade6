-- Each process caches what an API key's check reads (app/src/api_keys/server/cache.rs). Any
-- change to it -- the key, its owner, the owner's membership, the organization's 2FA policy --
-- notifies every process from the transaction that makes it (PostgreSQL delivers the
-- notification at commit), whichever code path or tool makes the change. Columns that change
-- as a key or an account is used, and decide nothing about a key, are left out.
CREATE FUNCTION gatehouse_key_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'api_keys' THEN
        PERFORM pg_notify('gatehouse_key_auth', 'k:' || OLD.id);
    ELSIF TG_TABLE_NAME = 'memberships' THEN
        PERFORM pg_notify('gatehouse_key_auth', 'u:' || OLD.user_id);
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('gatehouse_key_auth', 'u:' || OLD.id);
    ELSE
        PERFORM pg_notify('gatehouse_key_auth', 'o:' || OLD.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_key_auth_update AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION gatehouse_key_auth_changed();
CREATE TRIGGER api_keys_key_auth_delete AFTER DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION gatehouse_key_auth_changed();

CREATE TRIGGER memberships_key_auth_update AFTER UPDATE ON memberships FOR EACH ROW
    WHEN (OLD IS DISTINCT FROM NEW)
    EXECUTE FUNCTION gatehouse_key_auth_changed();
CREATE TRIGGER memberships_key_auth_delete AFTER DELETE ON memberships FOR EACH ROW
    EXECUTE FUNCTION gatehouse_key_auth_changed();

-- Sign-in bookkeeping (second-factor failures and lock, the last TOTP step, WebAuthn
-- ceremonies in progress) changes on every sign-in and decides nothing about a key.
CREATE TRIGGER users_key_auth_update AFTER UPDATE ON users FOR EACH ROW
    WHEN ((to_jsonb(OLD) - ARRAY['totp_last_step', 'second_factor_failures',
            'second_factor_locked_until', 'passkey_registration',
            'passkey_registration_expires_at', 'passkey_assertion',
            'passkey_assertion_expires_at', 'totp_pending_secret'])
        IS DISTINCT FROM
          (to_jsonb(NEW) - ARRAY['totp_last_step', 'second_factor_failures',
            'second_factor_locked_until', 'passkey_registration',
            'passkey_registration_expires_at', 'passkey_assertion',
            'passkey_assertion_expires_at', 'totp_pending_secret']))
    EXECUTE FUNCTION gatehouse_key_auth_changed();
CREATE TRIGGER users_key_auth_delete AFTER DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION gatehouse_key_auth_changed();

CREATE TRIGGER organizations_key_auth_update AFTER UPDATE ON organizations FOR EACH ROW
    WHEN (OLD IS DISTINCT FROM NEW)
    EXECUTE FUNCTION gatehouse_key_auth_changed();
CREATE TRIGGER organizations_key_auth_delete AFTER DELETE ON organizations FOR EACH ROW
    EXECUTE FUNCTION gatehouse_key_auth_changed();
