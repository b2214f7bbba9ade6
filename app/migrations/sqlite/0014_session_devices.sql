-- What Profile → Sessions shows of each session: the browser's User-Agent as it signed in, and
-- the address it was last seen from (updated with last_seen_at, at most once a minute).
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
