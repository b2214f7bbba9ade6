-- "Require two-factor authentication" gains a level: organizations.require_two_factor is
-- 0 (not required), 1 (any method) or 2 (security keys and passkeys only: phishing-resistant).
--
-- users.passkey_at: since when the person has had a security key or passkey (NULL: none),
-- copied onto memberships like two_factor_at, so that an organization's compliance under the
-- stricter level is a range of one index too.
ALTER TABLE users ADD COLUMN passkey_at INTEGER;
UPDATE users SET passkey_at = (SELECT MIN(created_at) FROM passkeys WHERE passkeys.user_id = users.id);
ALTER TABLE memberships ADD COLUMN passkey_at INTEGER;
UPDATE memberships SET passkey_at = (SELECT passkey_at FROM users WHERE users.id = memberships.user_id);
CREATE INDEX memberships_org_passkey ON memberships (org_id, passkey_at);

CREATE TRIGGER memberships_passkey_on_join AFTER INSERT ON memberships BEGIN
    UPDATE memberships SET passkey_at = (SELECT passkey_at FROM users WHERE id = new.user_id)
    WHERE org_id = new.org_id AND user_id = new.user_id;
END;
CREATE TRIGGER users_passkey_to_memberships AFTER UPDATE OF passkey_at ON users BEGIN
    UPDATE memberships SET passkey_at = new.passkey_at WHERE user_id = new.id;
END;
