-- An instance operator can disable an account (`gatehouse admin disable-user`): it cannot sign
-- in, its sessions are ended and its API keys are refused until it is enabled again.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
