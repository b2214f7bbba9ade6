-- Searches of one or two characters (too short for trigrams) match the start of names and
-- are listed in this index's order: bytewise ("C"), so that LIKE 'ab%' is a range of it and a
-- page stops after its rows instead of sorting every match.
DROP INDEX IF EXISTS memberships_org_name_lower;
CREATE INDEX memberships_org_name_lower ON memberships (org_id, (lower(member_name) COLLATE "C"), user_id);
