-- Scans: owned by a group, queued until a runner claims one while the group has fewer
-- running scans than its concurrent scans limit.

CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    -- The runner's last sign of life; a running scan silent for too long is queued again.
    heartbeat_at INTEGER,
    -- The API key of the runner that claimed it: only that runner may report on it.
    runner_key_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT
);
-- The Scans page: newest first, per organization.
CREATE INDEX scans_org_id ON scans (org_id, id);
-- Claims: the oldest queued scan of a group, and a group's running count.
CREATE INDEX scans_group_status ON scans (group_id, status, id);
-- Claims across an organization's groups, and the stale-runner sweep.
CREATE INDEX scans_org_status ON scans (org_id, status, id);
CREATE INDEX scans_running_heartbeat ON scans (status, heartbeat_at);
