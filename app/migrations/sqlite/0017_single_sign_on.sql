-- Single sign-on with OpenID Connect: one provider per organization.
--
-- client_secret is encrypted with the data key (like TOTP secrets) and never shown back.
-- provider_mfa: the provider's MFA (its amr claim) stands in for Gatehouse's second step.
-- tested_at / test_error: the last Test connection; SSO can be required only after a success.
CREATE TABLE sso_connections (
    org_id INTEGER PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    default_role TEXT NOT NULL,
    provider_mfa INTEGER NOT NULL DEFAULT 0,
    required INTEGER NOT NULL DEFAULT 0,
    tested_at INTEGER,
    test_error TEXT,
    updated_at INTEGER NOT NULL
);

-- The email domains an organization's provider speaks for; a domain belongs to one
-- organization, so an email says where to send its owner.
CREATE TABLE sso_domains (
    domain TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX sso_domains_org_idx ON sso_domains (org_id);

-- A person at a provider (issuer + subject, the id token's stable pair) and the account it
-- signs in to.
CREATE TABLE sso_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX sso_identities_subject_key ON sso_identities (issuer, subject);
CREATE INDEX sso_identities_user_idx ON sso_identities (user_id);

-- A round trip to the provider in progress, keyed by the hash of its state parameter and
-- taken out by the callback that uses it (so a state is good once). purpose: sign_in or test;
-- user_id: the Owner testing. The nonce and PKCE verifier never leave the server.
CREATE TABLE sso_logins (
    state_hash TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path TEXT,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sso_logins_expires_idx ON sso_logins (expires_at);

-- An identity whose email matches an existing account waits here until that person proves
-- the account is theirs by signing in with their password; never linked on the email alone.
CREATE TABLE sso_pending_links (
    token_hash TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sso_pending_links_expires_idx ON sso_pending_links (expires_at);
CREATE INDEX sso_pending_links_user_idx ON sso_pending_links (user_id);

-- The organization whose provider a session came through (NULL: a password session).
ALTER TABLE sessions ADD COLUMN sso_org_id INTEGER;
-- A sign-in waiting for Gatehouse's second step keeps that too.
ALTER TABLE sign_in_challenges ADD COLUMN sso_org_id INTEGER;
