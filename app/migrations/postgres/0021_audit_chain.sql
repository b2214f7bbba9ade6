-- A hash chain per organization over the audit log (app/src/audit/chain.rs): each event's
-- seq is its place in its organization's chain (the events without an organization make
-- chain 0) and hash = SHA-256(previous hash || canonical encoding of the event). Events from
-- before this version have seq NULL until the first write after the upgrade chains them, in
-- id order. audit_chains holds each chain's head: the row every writer locks, so writers on
-- several replicas still make one chain.
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_events_org_seq_idx ON audit_events (org_id, seq);
CREATE UNIQUE INDEX audit_events_system_seq_idx ON audit_events (seq) WHERE org_id IS NULL;
CREATE INDEX audit_events_unchained_idx ON audit_events (org_id, id) WHERE seq IS NULL;

CREATE TABLE audit_chains (
    org_key BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    head TEXT NOT NULL,
    checkpoint_seq BIGINT NOT NULL DEFAULT 0,
    checkpoint_at BIGINT NOT NULL DEFAULT 0
);
