-- The members page lists an organization's members by name, 50 at a time. With the name on
-- the membership row, a page is an index range scan of (org_id, member_name, user_id)
-- instead of a sort of every membership of the organization.
ALTER TABLE memberships ADD COLUMN member_name TEXT NOT NULL DEFAULT '';
UPDATE memberships SET member_name = (SELECT name FROM users WHERE users.id = memberships.user_id);
CREATE INDEX memberships_org_name_idx ON memberships (org_id, member_name, user_id);
