-- Audit log streaming (app/src/audit_streams): each organization may send its audit events
-- to a receiver in each format. cursor_seq: the last event (its seq in the organization's
-- chain) the receiver acknowledged. failures / next_attempt_at: the backoff while it fails.
-- lease_until: the replica sending it holds the row until then. secret: the JSON Lines
-- signing secret or the Splunk HEC token, encrypted with the data key.
CREATE TABLE audit_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    cursor_seq INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT,
    last_success_at INTEGER,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX audit_streams_org_kind ON audit_streams (org_id, kind);
