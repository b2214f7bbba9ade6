-- A policy's impact before it applies (app/src/policy_impact).
--
-- Where and with what a key was last used: the preview names them ("last used 3 h ago from
-- 203.0.113.7 by curl/8.5"). Written together with last_used_at, at most once a minute.
ALTER TABLE api_keys ADD COLUMN last_used_ip TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_agent TEXT;
-- The preview reads an organization's keys member by member, and lists them most recently
-- used first (walking this index backwards, it stops at the page's end instead of sorting).
CREATE INDEX api_keys_org_user ON api_keys (org_id, user_id);
CREATE INDEX api_keys_org_last_used ON api_keys (org_id, last_used_at);

-- Report only: a policy tried for a number of days before it is enforced. Nothing is
-- refused while it runs; what would have been is tallied below. Kept on the organization's
-- row so that every check that reads the policy reads the trial with it (and, on
-- PostgreSQL, every replica's key cache hears of it from the organizations trigger).
-- two_factor_trial: the level tried (1 any method, 2 security keys only), until ..._until.
ALTER TABLE organizations ADD COLUMN two_factor_trial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN two_factor_trial_since INTEGER;
ALTER TABLE organizations ADD COLUMN two_factor_trial_until INTEGER;
ALTER TABLE organizations ADD COLUMN sso_trial_since INTEGER;
ALTER TABLE organizations ADD COLUMN sso_trial_until INTEGER;

-- Who a trial would have refused: one row per policy, member and key (key_id 0: a signed-in
-- session), with the number of requests and the last address and client.
CREATE TABLE policy_would_deny (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    policy TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    ip TEXT,
    agent TEXT,
    PRIMARY KEY (org_id, policy, user_id, key_id)
);
