-- Two-factor authentication: per-user TOTP (secret encrypted with the server key), recovery
-- codes (hashed), half-done sign-ins waiting for their second step, and the organization
-- policy "Require two-factor authentication" with its grace period and notices.

-- Encrypted TOTP secrets: `totp_secret` once 2FA is on, `totp_pending_secret` during enrollment.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
-- The last accepted time step: a code at or before it is a replay.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
-- Consecutive failed second-factor checks, and the lock they cause.
ALTER TABLE users ADD COLUMN second_factor_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN second_factor_locked_until BIGINT NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sign_in_challenges (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    next_path TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_in_challenges_user_idx ON sign_in_challenges (user_id);

ALTER TABLE organizations ADD COLUMN require_two_factor BIGINT NOT NULL DEFAULT 0;
-- When the policy was applied: members who join after it get no grace period.
ALTER TABLE organizations ADD COLUMN two_factor_since BIGINT;
-- The end of the grace period: from then on members without 2FA are refused.
ALTER TABLE organizations ADD COLUMN two_factor_deadline BIGINT;

-- "Notify": an in-app notice for each member without 2FA, shown until they turn it on.
CREATE TABLE two_factor_notices (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX two_factor_notices_org_idx ON two_factor_notices (org_id);
