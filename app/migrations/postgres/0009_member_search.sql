-- Member search by name or email, any part of either, any case: a trigram GIN index (pg_trgm)
-- on a lower-cased copy of the name and email kept on each membership. Triggers keep it in step
-- inside the transaction of every change to a membership or to a person's name or email.
-- pg_trgm ships with PostgreSQL; creating it needs a role allowed to create extensions.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE memberships ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE memberships m SET search_text = lower(m.member_name || ' ' || u.email)
FROM users u WHERE u.id = m.user_id;
CREATE INDEX memberships_search_trgm ON memberships USING gin (search_text gin_trgm_ops);

CREATE FUNCTION memberships_search_text() RETURNS trigger AS $$
BEGIN
    NEW.search_text := lower(NEW.member_name || ' ' || (SELECT email FROM users WHERE id = NEW.user_id));
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER memberships_search_text BEFORE INSERT OR UPDATE OF member_name ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_search_text();

-- A person's name is copied onto each of their memberships (the members list is ordered by it).
CREATE FUNCTION users_to_memberships() RETURNS trigger AS $$
BEGIN
    UPDATE memberships SET member_name = NEW.name, search_text = lower(NEW.name || ' ' || NEW.email)
    WHERE user_id = NEW.id;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_to_memberships AFTER UPDATE OF name, email ON users
    FOR EACH ROW EXECUTE FUNCTION users_to_memberships();

-- Searches of one or two characters (too short for trigrams) match the start of names.
CREATE INDEX memberships_org_name_lower ON memberships (org_id, lower(member_name) text_pattern_ops, user_id);
