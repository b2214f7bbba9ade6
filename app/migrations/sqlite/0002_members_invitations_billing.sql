-- Billing (plan, seats, billing email), invitations, and the indexes the members and audit
-- pages use.

ALTER TABLE organizations ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
ALTER TABLE organizations ADD COLUMN seats INTEGER NOT NULL DEFAULT 10;
ALTER TABLE organizations ADD COLUMN billing_email TEXT NOT NULL DEFAULT '';

-- Members are listed by name within an organization; search matches name or email.
CREATE INDEX users_name_id_idx ON users (name, id);
CREATE INDEX memberships_org_role_idx ON memberships (org_id, role);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'team_leader', 'billing_manager', 'user')),
    token_hash TEXT NOT NULL,
    invited_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- 'pending' until accepted or revoked; expiry is read from expires_at.
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'revoked')),
    accepted_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    finished_at INTEGER
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_org_status_idx ON invitations (org_id, status, created_at);
-- One open invitation per address and organization.
CREATE UNIQUE INDEX invitations_pending_email_key ON invitations (org_id, email_normalized) WHERE status = 'pending';

CREATE INDEX audit_events_org_action_idx ON audit_events (org_id, action, created_at);
