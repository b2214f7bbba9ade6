//! Finding members by name or email: any part of either, in any case, served by an index at
//! any organization size. Three characters or more use the trigram index (SQLite FTS5's
//! trigram tokenizer; PostgreSQL's pg_trgm), kept in step by the triggers of migration 0009;
//! one or two characters (too short for trigrams) match the start of a name.

use crate::db::{escape_like, Backend};

/// A search term, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Three characters or more: anywhere in the name or email.
    Anywhere(String),
    /// One or two characters: the start of the name.
    NameStart(String),
}

impl Term {
    /// `None` for an empty search.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        let term = raw.map(str::trim).filter(|t| !t.is_empty())?;
        let term: String = term.chars().filter(|c| !c.is_control()).take(100).collect();
        if term.chars().count() >= 3 {
            Some(Self::Anywhere(term))
        } else {
            Some(Self::NameStart(term))
        }
    }
}

/// How a list of an organization's members is narrowed and ordered: the clauses that follow
/// `FROM memberships m JOIN users u ON u.id = m.user_id`, with the placeholders `$1` (the
/// organization), `$2`, `$3` (the cursor: the previous page's last name and user id), `$4`
/// (the limit) and, for a search, `$5` (the term, as [`Clauses::value`]).
///
/// Each order is the order of the index that serves it, so a page stops after `$4` rows:
/// the list by name, a search anywhere in the order people joined (the trigram index's order
/// on SQLite), a name start by name regardless of case.
pub struct Clauses {
    pub join: &'static str,
    pub condition: &'static str,
    pub order: &'static str,
    pub value: Option<String>,
}

pub fn clauses(backend: Backend, term: Option<&Term>) -> Clauses {
    match (backend, term) {
        (_, None) => Clauses {
            join: "",
            condition: "(m.member_name, m.user_id) > ($2, $3)",
            order: "m.member_name, m.user_id",
            value: None,
        },
        (Backend::Sqlite, Some(Term::Anywhere(t))) => Clauses {
            join: "JOIN member_search s ON m.org_id = s.org_id AND m.user_id = s.user_id",
            // The organization's rows are one rowid range (org_id * 2^32 + user_id), so the
            // index reads only them, in user id order, from the cursor on.
            condition: "s.text MATCH $5
                AND s.rowid BETWEEN $1 * 4294967296 + $3 + 1 AND $1 * 4294967296 + 4294967295",
            order: "s.rowid",
            // A quoted FTS5 phrase: the trigram tokenizer matches it anywhere, in any case.
            value: Some(format!("\"{}\"", t.replace('"', "\"\""))),
        },
        (Backend::Postgres, Some(Term::Anywhere(t))) => Clauses {
            join: "",
            condition: "m.search_text LIKE $5 ESCAPE '\\' AND m.user_id > $3",
            order: "m.user_id",
            value: Some(format!("%{}%", escape_like(&t.to_lowercase()))),
        },
        (Backend::Sqlite, Some(Term::NameStart(t))) => Clauses {
            join: "",
            // LIKE is case-insensitive, like the (org_id, member_name COLLATE NOCASE) index.
            condition: "m.member_name LIKE $5 ESCAPE '\\'
                AND (m.member_name COLLATE NOCASE, m.user_id) > ($2, $3)",
            order: "m.member_name COLLATE NOCASE, m.user_id",
            value: Some(format!("{}%", escape_like(t))),
        },
        (Backend::Postgres, Some(Term::NameStart(t))) => Clauses {
            join: "",
            condition:
                "lower(m.member_name) COLLATE \"C\" LIKE $5 ESCAPE '\\'
                AND (lower(m.member_name) COLLATE \"C\", m.user_id) > (lower($2) COLLATE \"C\", $3)",
            order: "lower(m.member_name) COLLATE \"C\", m.user_id",
            value: Some(format!("{}%", escape_like(&t.to_lowercase()))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_of_three_characters_or_more_search_anywhere() {
        assert_eq!(Term::parse(None), None);
        assert_eq!(Term::parse(Some("  ")), None);
        assert_eq!(Term::parse(Some("ad")), Some(Term::NameStart("ad".into())));
        assert_eq!(
            Term::parse(Some(" Ada ")),
            Some(Term::Anywhere("Ada".into()))
        );
        let c = clauses(Backend::Sqlite, Some(&Term::Anywhere("a\"b".into())));
        assert_eq!(c.value.as_deref(), Some("\"a\"\"b\""));
        let c = clauses(Backend::Postgres, Some(&Term::Anywhere("50%_".into())));
        assert_eq!(c.value.as_deref(), Some("%50\\%\\_%"));
        assert!(clauses(Backend::Sqlite, None).value.is_none());
    }
}
