-- Warnings sent before an API key expires (7 days and 1 day before): one row per key and
-- warning. The primary key lets one replica's worker claim each warning, once, across
-- restarts; the row is also the owner's in-app notice until they dismiss it.
CREATE TABLE api_key_expiry_notices (
    key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    days_before BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    dismissed_at BIGINT,
    PRIMARY KEY (key_id, days_before)
);
-- The banner's lookup, on every signed-in page.
CREATE INDEX api_key_expiry_notices_user ON api_key_expiry_notices (user_id, dismissed_at);
-- The worker's pass: live keys by expiry.
CREATE INDEX api_keys_expiry ON api_keys (expires_at) WHERE revoked_at IS NULL;
