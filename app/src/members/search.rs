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

/// The parts of a members query for `term`: what to join after `memberships m`, and the
/// condition (using placeholder `$n`), with the value to bind for it.
pub struct Filter {
    pub join: &'static str,
    pub condition: String,
    pub value: String,
}

pub fn filter(backend: Backend, term: &Term, n: usize) -> Filter {
    match (backend, term) {
        (Backend::Sqlite, Term::Anywhere(t)) => Filter {
            // The index drives: its matches, then each match's membership by primary key.
            join: "JOIN member_search s ON m.org_id = s.org_id AND m.user_id = s.user_id",
            // A quoted FTS5 phrase: the trigram tokenizer matches it anywhere, in any case.
            condition: format!("s.text MATCH ${n}"),
            value: format!("\"{}\"", t.replace('"', "\"\"")),
        },
        (Backend::Postgres, Term::Anywhere(t)) => Filter {
            join: "",
            condition: format!("m.search_text LIKE ${n} ESCAPE '\\'"),
            value: format!("%{}%", escape_like(&t.to_lowercase())),
        },
        (Backend::Sqlite, Term::NameStart(t)) => Filter {
            join: "",
            // Case-insensitive like LIKE, and served by (org_id, member_name COLLATE NOCASE).
            condition: format!("m.member_name LIKE ${n} ESCAPE '\\'"),
            value: format!("{}%", escape_like(t)),
        },
        (Backend::Postgres, Term::NameStart(t)) => Filter {
            join: "",
            condition: format!("lower(m.member_name) LIKE ${n} ESCAPE '\\'"),
            value: format!("{}%", escape_like(&t.to_lowercase())),
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
        let f = filter(Backend::Sqlite, &Term::Anywhere("a\"b".into()), 4);
        assert_eq!(f.value, "\"a\"\"b\"");
        let f = filter(Backend::Postgres, &Term::Anywhere("50%_".into()), 4);
        assert_eq!(f.value, "%50\\%\\_%");
        assert_eq!(f.condition, "m.search_text LIKE $4 ESCAPE '\\'");
    }
}
