-- When each member turned two-factor authentication on, copied from users onto memberships:
-- an organization's compliance ("n of m members use 2FA", the members without it) is then a
-- range of one index instead of a lookup of every member's user row. The triggers keep the
-- copy in step inside the transaction of every change.
ALTER TABLE memberships ADD COLUMN two_factor_at BIGINT;
UPDATE memberships m SET two_factor_at = u.totp_enabled_at FROM users u WHERE u.id = m.user_id;
CREATE INDEX memberships_org_two_factor ON memberships (org_id, two_factor_at);

CREATE FUNCTION memberships_two_factor_on_join() RETURNS trigger AS $$
BEGIN
    NEW.two_factor_at := (SELECT totp_enabled_at FROM users WHERE id = NEW.user_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER memberships_two_factor_on_join BEFORE INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_two_factor_on_join();

CREATE FUNCTION users_two_factor_to_memberships() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET two_factor_at = NEW.totp_enabled_at WHERE user_id = NEW.id;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_two_factor_to_memberships AFTER UPDATE OF totp_enabled_at ON users
    FOR EACH ROW EXECUTE FUNCTION users_two_factor_to_memberships();
