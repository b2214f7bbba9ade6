-- Member search by name or email, any part of either, any case: an FTS5 index with the trigram
-- tokenizer (SQLite 3.34+), one row per membership. Its rowid comes from the membership's key
-- (org_id * 2^32 + user_id), so the triggers below find a row without a scan. The triggers keep
-- it in step inside the transaction of every change to a membership or to a person's name or
-- email; nothing else writes it.
CREATE VIRTUAL TABLE member_search USING fts5 (
    text, org_id UNINDEXED, user_id UNINDEXED, tokenize = 'trigram'
);
INSERT INTO member_search (rowid, text, org_id, user_id)
SELECT m.org_id * 4294967296 + m.user_id, m.member_name || ' ' || u.email, m.org_id, m.user_id
FROM memberships m JOIN users u ON u.id = m.user_id;

CREATE TRIGGER member_search_on_join AFTER INSERT ON memberships BEGIN
    INSERT INTO member_search (rowid, text, org_id, user_id)
    SELECT new.org_id * 4294967296 + new.user_id, new.member_name || ' ' || u.email,
           new.org_id, new.user_id
    FROM users u WHERE u.id = new.user_id;
END;

CREATE TRIGGER member_search_on_leave AFTER DELETE ON memberships BEGIN
    DELETE FROM member_search WHERE rowid = old.org_id * 4294967296 + old.user_id;
END;

CREATE TRIGGER member_search_on_rename AFTER UPDATE OF member_name ON memberships BEGIN
    UPDATE member_search
    SET text = new.member_name || ' ' || (SELECT email FROM users WHERE id = new.user_id)
    WHERE rowid = new.org_id * 4294967296 + new.user_id;
END;

-- A person's name is copied onto each of their memberships (the members list is ordered by it).
CREATE TRIGGER users_name_to_memberships AFTER UPDATE OF name ON users BEGIN
    UPDATE memberships SET member_name = new.name WHERE user_id = new.id;
END;

CREATE TRIGGER users_email_to_member_search AFTER UPDATE OF email ON users BEGIN
    UPDATE member_search
    SET text = (SELECT m.member_name FROM memberships m
                WHERE m.org_id = member_search.org_id AND m.user_id = new.id) || ' ' || new.email
    WHERE rowid IN (SELECT org_id * 4294967296 + user_id FROM memberships WHERE user_id = new.id);
END;

-- Searches of one or two characters (too short for trigrams) match the start of names:
-- a range of this index (LIKE 'ab%' uses it because it is case-insensitive, like LIKE).
CREATE INDEX memberships_org_name_nocase ON memberships (org_id, member_name COLLATE NOCASE, user_id);
