-- Answers of REST POSTs sent with an Idempotency-Key, kept 24 hours so that a retry gets the
-- first answer instead of making a second change (app/src/rest/idempotency.rs).
--
-- key_hash: SHA-256 of the Authorization header (a key is scoped to the API key that sent it).
-- fingerprint: SHA-256 of the method, path and body (the same key for another request: 422).
-- status NULL: the first request is still running.
CREATE TABLE idempotency_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER,
    content_type TEXT,
    location TEXT,
    body TEXT
);
CREATE UNIQUE INDEX idempotency_keys_key ON idempotency_keys (key_hash, idem_key);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
