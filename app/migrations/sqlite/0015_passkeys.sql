-- Security keys and passkeys (WebAuthn) as a second factor.
--
-- users.two_factor_at: since when the person has had any second factor (an authenticator app
-- or a security key / passkey); NULL when they have none. It replaces totp_enabled_at as the
-- source of memberships.two_factor_at, so that a passkey alone counts as 2FA everywhere.
ALTER TABLE users ADD COLUMN two_factor_at INTEGER;
UPDATE users SET two_factor_at = totp_enabled_at;

DROP TRIGGER memberships_two_factor_on_join;
DROP TRIGGER users_two_factor_to_memberships;
CREATE TRIGGER memberships_two_factor_on_join AFTER INSERT ON memberships BEGIN
    UPDATE memberships SET two_factor_at = (SELECT two_factor_at FROM users WHERE id = new.user_id)
    WHERE org_id = new.org_id AND user_id = new.user_id;
END;
CREATE TRIGGER users_two_factor_to_memberships AFTER UPDATE OF two_factor_at ON users BEGIN
    UPDATE memberships SET two_factor_at = new.two_factor_at WHERE user_id = new.id;
END;

-- One row per registered credential. `credential` is webauthn-rs's Passkey as JSON: the public
-- key and the signature counter (nothing secret). credential_id is its base64url id, unique
-- across users so that an authenticator cannot be registered to two accounts.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A registration between its two steps (the browser's ceremony runs in between), one per user,
-- an authentication waiting on the sign-in it belongs to, and one a signed-in person answers. Kept here, never in a cookie: a
-- ceremony state is single use.
ALTER TABLE users ADD COLUMN passkey_registration TEXT;
ALTER TABLE users ADD COLUMN passkey_registration_expires_at INTEGER NOT NULL DEFAULT 0;
-- A signed-in person's proof with one of their keys (removing the last one asks for it).
ALTER TABLE users ADD COLUMN passkey_assertion TEXT;
ALTER TABLE users ADD COLUMN passkey_assertion_expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sign_in_challenges ADD COLUMN passkey_state TEXT;
