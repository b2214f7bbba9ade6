-- An instance operator can disable an account (`gatehouse admin disable-user`): it cannot sign
-- in, its sessions are ended and its API keys are refused until it is enabled again.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- The audit log is read newest first by id, a page or an export batch at a time, within one
-- organization: a range of this index, however large the organization's log.
CREATE INDEX audit_events_org_id_idx ON audit_events (org_id, id);
