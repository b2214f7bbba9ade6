-- Indexes for pruning (app/src/maintenance.rs) and the per-organization delivery queue.
CREATE INDEX deliveries_finished_idx ON deliveries (status, updated_at);
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);
CREATE INDEX sign_in_challenges_expires_idx ON sign_in_challenges (expires_at);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- "Sudo mode": when the session last proved its owner (password, and second factor when on).
-- Sensitive actions ask again when this is older than a few minutes. Sessions from before this
-- migration count as old.
ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER NOT NULL DEFAULT 0;
