-- Groups of an organization's members, with a concurrent scans limit and integrations
-- (webhook, Slack, email) whose deliveries are queued in the database.

CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- Lower-cased name: unique per organization, and the list's sort key.
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    scans_limit INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_org_name_key ON groups (org_id, name_key);

-- A group member is a member of the organization: leaving it leaves its groups.
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    org_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_member_idx ON group_members (org_id, user_id);

-- One row per group and kind. Secrets (signing secret, Slack URL) are encrypted.
CREATE TABLE group_integrations (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    enabled INTEGER NOT NULL DEFAULT 0,
    url TEXT,
    secret TEXT,
    recipients TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, kind)
);

-- The outbox: written in the transaction of the change, sent by the delivery worker with
-- retries, so deliveries survive restarts and never slow the request.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- A worker that takes a delivery holds it until then (several replicas may run workers).
    claimed_until INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER,
    latency_ms INTEGER,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due_idx ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_group_idx ON deliveries (group_id, id);
