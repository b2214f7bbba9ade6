-- SCIM 2.0 provisioning (app/src/scim): the identity provider adds, suspends and removes
-- members and groups of one organization with a bearer token.

-- The organization's tokens: only the SHA-256 of the secret is kept, like API keys.
CREATE TABLE scim_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX scim_tokens_hash ON scim_tokens (token_hash);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);

-- The role a provisioned member gets when the provider sends none (never Owner).
ALTER TABLE organizations ADD COLUMN scim_default_role TEXT NOT NULL DEFAULT 'user';

-- A member the provider provisioned. While suspended (active: false) the membership row is
-- moved out of memberships into suspended_role / suspended_groups, so that no door (pages,
-- server functions, REST, the key check) can see a suspended person as a member; active:
-- true moves it back. created_account: provisioning made the account (no password), so its
-- first single sign-on through this organization's provider links it.
CREATE TABLE scim_users (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    external_id TEXT,
    display_name TEXT,
    given_name TEXT,
    family_name TEXT,
    created_account INTEGER NOT NULL,
    suspended_at INTEGER,
    suspended_role TEXT,
    suspended_groups TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE UNIQUE INDEX scim_users_external ON scim_users (org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX scim_users_user ON scim_users (user_id);

-- A group the provider manages: its name and members follow the provider.
ALTER TABLE groups ADD COLUMN scim_managed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN scim_external_id TEXT;
CREATE UNIQUE INDEX groups_scim_external ON groups (org_id, scim_external_id) WHERE scim_external_id IS NOT NULL;

-- The last provisioning errors, for the Provisioning panel (the newest 50 are kept).
CREATE TABLE scim_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX scim_errors_org ON scim_errors (org_id, id);
