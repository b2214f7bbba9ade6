-- "Require two-factor authentication" gains a level: organizations.require_two_factor is
-- 0 (not required), 1 (any method) or 2 (security keys and passkeys only: phishing-resistant).
--
-- users.passkey_at: since when the person has had a security key or passkey (NULL: none),
-- copied onto memberships like two_factor_at, so that an organization's compliance under the
-- stricter level is a range of one index too.
ALTER TABLE users ADD COLUMN passkey_at BIGINT;
UPDATE users u SET passkey_at = (SELECT MIN(created_at) FROM passkeys p WHERE p.user_id = u.id);
ALTER TABLE memberships ADD COLUMN passkey_at BIGINT;
UPDATE memberships m SET passkey_at = u.passkey_at FROM users u WHERE u.id = m.user_id;
CREATE INDEX memberships_org_passkey ON memberships (org_id, passkey_at);

CREATE FUNCTION memberships_passkey_on_join() RETURNS trigger AS $$
BEGIN
    NEW.passkey_at := (SELECT passkey_at FROM users WHERE id = NEW.user_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER memberships_passkey_on_join BEFORE INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_passkey_on_join();

CREATE FUNCTION users_passkey_to_memberships() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET passkey_at = NEW.passkey_at WHERE user_id = NEW.id;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_passkey_to_memberships AFTER UPDATE OF passkey_at ON users
    FOR EACH ROW EXECUTE FUNCTION users_passkey_to_memberships();
