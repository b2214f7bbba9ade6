-- Personal API keys: one user, one organization, a set of scopes. Only the SHA-256 of the
-- whole key is stored; the prefix is kept to tell keys apart in lists.

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    -- Hex SHA-256 of the whole key: the one lookup of every API request.
    key_hash TEXT NOT NULL,
    -- Space-separated scope names ("members:read groups:write").
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
-- The profile page's list.
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);
