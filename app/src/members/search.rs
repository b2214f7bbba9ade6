//! Finding members by name or email: any part of either, in any case, served by an index at
//! any organization size. Three characters or more use the trigram index (SQLite FTS5's
//! trigram tokenizer; PostgreSQL's pg_trgm), kept in step by the triggers of migration 0009;
//! one or two characters (too short for trigrams) match the start of a name.
//!
//! PostgreSQL's GIN index reads the whole posting list of every trigram of the term. A term
//! made of trigrams that most members have (`member4242@corp` where every email is
//! `member…@corp…`) read thousands of index pages to find one row. So on PostgreSQL the index
//! is given only the part of the term that is cheapest to look up, estimated from trigram
//! counts in a sample of the table ([`TrigramStats`]), and the whole term filters the rows it
//! finds: the same rows, in a fraction of the reads. Only when few members match: when many
//! do (the sample's rows tell), reading the organization in order stops at the page's end
//! sooner than the index could find them all, and the query says so.

use crate::db::{escape_like, Backend, Db, Param, ReadRow};
use crate::error::AppError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
/// (the limit) and, for a search, `$5` onwards ([`Clauses::values`]).
///
/// Each order is the order of the index that serves it, so a page stops after `$4` rows:
/// the list by name, a search anywhere in the order people joined (the trigram index's order
/// on SQLite), a name start by name regardless of case.
pub struct Clauses {
    pub join: &'static str,
    pub condition: &'static str,
    pub order: &'static str,
    /// Bound as `$5`, `$6`, … (none without a search).
    pub values: Vec<String>,
    /// Read with [`Db::read_pooled_serial`]: the rows are walked in order to the `LIMIT`.
    pub serial: bool,
}

impl Clauses {
    /// Runs `sql` (built from these clauses) with `params` (`$1`–`$4`) and the search's values.
    /// A page of the plain list is an index range, read on this thread; a search may match
    /// many, so it goes through the pool, off the request's thread.
    pub async fn read(
        self,
        db: &Db,
        sql: &str,
        mut params: Vec<Param>,
    ) -> Result<Vec<ReadRow>, AppError> {
        if self.values.is_empty() {
            return db.read(sql, &params).await;
        }
        params.extend(self.values.into_iter().map(Param::from));
        if self.serial {
            db.read_pooled_serial(sql, &params).await
        } else {
            db.read_pooled(sql, &params).await
        }
    }
}

/// The clauses for `term`; `stats` (PostgreSQL) lets the index look up the cheapest part.
pub fn clauses(backend: Backend, term: Option<&Term>, stats: Option<&TrigramStats>) -> Clauses {
    match (backend, term) {
        (_, None) => Clauses {
            join: "",
            condition: "(m.member_name, m.user_id) > ($2, $3)",
            order: "m.member_name, m.user_id",
            values: Vec::new(),
            serial: false,
        },
        (Backend::Sqlite, Some(Term::Anywhere(t))) => Clauses {
            join: "JOIN member_search s ON m.org_id = s.org_id AND m.user_id = s.user_id",
            // The organization's rows are one rowid range (org_id * 2^32 + user_id), so the
            // index reads only them, in user id order, from the cursor on.
            condition: "s.text MATCH $5
                AND s.rowid BETWEEN $1 * 4294967296 + $3 + 1 AND $1 * 4294967296 + 4294967295",
            order: "s.rowid",
            // A quoted FTS5 phrase: the trigram tokenizer matches it anywhere, in any case.
            values: vec![format!("\"{}\"", t.replace('"', "\"\""))],
            serial: false,
        },
        (Backend::Postgres, Some(Term::Anywhere(t))) => {
            let term = t.to_lowercase();
            let whole = format!("%{}%", escape_like(&term));
            match stats.map(|s| s.lookup(&term)) {
                // The index looks up the part; the whole term, written so that the index
                // cannot take it, filters what it finds.
                Some(Lookup::Part(part)) => Clauses {
                    join: "",
                    condition: "m.search_text LIKE $5 ESCAPE '\\'
                        AND (m.search_text || '') LIKE $6 ESCAPE '\\' AND m.user_id > $3",
                    order: "m.user_id",
                    values: vec![format!("%{}%", escape_like(&part)), whole],
                    serial: false,
                },
                // Many members match: walk the organization in order and stop at the page's
                // end. PostgreSQL's own estimate (from a 100-row histogram) cannot be trusted
                // with that: a term one member in a hundred has often matches none of it, and
                // then it looks up every match through the index first (110 ms at 1,000,000
                // members instead of 2). So the index is hidden from it, and so are parallel
                // workers, which it would start to scan for a filter it thinks rare.
                Some(Lookup::InOrder) => Clauses {
                    join: "",
                    condition: "(m.search_text || '') LIKE $5 ESCAPE '\\' AND m.user_id > $3",
                    order: "m.user_id",
                    values: vec![whole],
                    serial: true,
                },
                // The whole term is as cheap to look up as any part (or no sample yet).
                Some(Lookup::Whole) | None => Clauses {
                    join: "",
                    condition: "m.search_text LIKE $5 ESCAPE '\\' AND m.user_id > $3",
                    order: "m.user_id",
                    values: vec![whole],
                    serial: false,
                },
            }
        }
        (Backend::Sqlite, Some(Term::NameStart(t))) => Clauses {
            join: "",
            // LIKE is case-insensitive, like the (org_id, member_name COLLATE NOCASE) index.
            condition: "m.member_name LIKE $5 ESCAPE '\\'
                AND (m.member_name COLLATE NOCASE, m.user_id) > ($2, $3)",
            order: "m.member_name COLLATE NOCASE, m.user_id",
            values: vec![format!("{}%", escape_like(t))],
            serial: false,
        },
        (Backend::Postgres, Some(Term::NameStart(t))) => Clauses {
            join: "",
            condition:
                "lower(m.member_name) COLLATE \"C\" LIKE $5 ESCAPE '\\'
                AND (lower(m.member_name) COLLATE \"C\", m.user_id) > (lower($2) COLLATE \"C\", $3)",
            order: "lower(m.member_name) COLLATE \"C\", m.user_id",
            values: vec![format!("{}%", escape_like(&t.to_lowercase()))],
            serial: false,
        },
    }
}

/// How PostgreSQL should find a search's matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A large share of the members match: walk them in order until the page is full
    /// (the index would find every match before the first could be returned).
    InOrder,
    /// Few match: the trigram index looks up this part of the term.
    Part(String),
    /// Few match, and the whole term is as cheap to look up as any part.
    Whole,
}

/// A sample of `memberships`: how many rows have each trigram (as pg_trgm makes them:
/// lower case, words of letters and digits, padded with two spaces before and one after),
/// and some rows' search text, to tell how many members a term matches.
#[derive(Debug, Default)]
pub struct TrigramStats {
    sampled: f64,
    counts: HashMap<String, f64>,
    texts: Vec<String>,
    table_rows: f64,
}

/// A sample smaller than this says too little, and a table that small is fast anyway.
const MIN_SAMPLE: f64 = 500.0;
/// About how many rows the trigram counts come from.
const SAMPLE_ROWS: f64 = 20_000.0;
/// How many rows' text is kept to estimate a term's share of matches.
const SAMPLE_TEXTS: f64 = 5_000.0;
/// A row fetched and checked costs about this many index entries read.
const ROW_COST: f64 = 10.0;
/// The page size the choice between reading in order and the index is made for.
const PAGE: f64 = 50.0;

impl TrigramStats {
    pub fn new(
        sampled: usize,
        counts: impl IntoIterator<Item = (String, i64)>,
        texts: Vec<String>,
        table_rows: f64,
    ) -> Self {
        Self {
            sampled: sampled as f64,
            counts: counts.into_iter().map(|(t, n)| (t, n as f64)).collect(),
            texts,
            table_rows,
        }
    }

    /// How to find the matches of `term` (lower case). Reading in order stops after about
    /// `PAGE / share` rows; the index reads every match (`share * table_rows`) before sorting
    /// them: past the share where the two meet, reading in order is cheaper.
    pub fn lookup(&self, term: &str) -> Lookup {
        if self.sampled < MIN_SAMPLE || self.texts.len() < MIN_SAMPLE as usize {
            return Lookup::Whole;
        }
        let matching = self.texts.iter().filter(|t| t.contains(term)).count();
        let share = matching as f64 / self.texts.len() as f64;
        if share * share * self.table_rows > PAGE {
            return Lookup::InOrder;
        }
        match self.cheapest_part(term) {
            Some(part) => Lookup::Part(part),
            None => Lookup::Whole,
        }
    }

    /// The part of `term` (lower case) whose lookup costs least, when that is less than the
    /// whole term's: the index entries read (each trigram's count) plus the rows fetched to
    /// check (the rarest trigram's count, narrowed by the others, which are not independent
    /// of it: their selectivity counts half).
    pub fn cheapest_part(&self, term: &str) -> Option<String> {
        if self.sampled < MIN_SAMPLE {
            return None;
        }
        let chars: Vec<char> = term.chars().collect();
        let cost = |part: &[char]| -> Option<f64> {
            let mut counts: Vec<f64> = like_trigrams(part)
                .iter()
                .map(|t| self.counts.get(t).copied().unwrap_or(0.0) + 0.5)
                .collect();
            counts.sort_by(f64::total_cmp);
            let (rarest, others) = counts.split_first()?;
            let rows = others
                .iter()
                .fold(*rarest, |rows, n| rows * (n / self.sampled).sqrt());
            Some(counts.iter().sum::<f64>() + ROW_COST * rows)
        };
        let whole = cost(&chars)?;
        let mut best: Option<(f64, usize, usize)> = None;
        for start in 0..chars.len() {
            for end in (start + 3)..=chars.len() {
                if (start, end) == (0, chars.len()) {
                    continue;
                }
                if let Some(c) = cost(&chars[start..end]) {
                    if best.is_none_or(|(b, _, _)| c < b) {
                        best = Some((c, start, end));
                    }
                }
            }
        }
        let (c, start, end) = best?;
        // Worth it only when clearly cheaper: the filter costs a little too.
        (c * 2.0 < whole).then(|| chars[start..end].iter().collect())
    }
}

/// The trigrams pg_trgm looks up for `LIKE '%part%'`: each word of letters and digits, padded
/// where a separator inside the part bounds it (the ends of the part are wildcards).
fn like_trigrams(part: &[char]) -> Vec<String> {
    let mut trigrams = Vec::new();
    let mut i = 0;
    while i < part.len() {
        if !part[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < part.len() && part[i].is_alphanumeric() {
            i += 1;
        }
        let mut word: Vec<char> = Vec::new();
        if start > 0 {
            word.extend([' ', ' ']);
        }
        word.extend(&part[start..i]);
        if i < part.len() {
            word.push(' ');
        }
        for w in word.windows(3) {
            let t: String = w.iter().collect();
            if !trigrams.contains(&t) {
                trigrams.push(t);
            }
        }
    }
    trigrams
}

/// The [`TrigramStats`] of this process, taken again in the background when a search finds
/// them older than [`SearchStats::MAX_AGE`] (the search goes on with the old ones).
#[derive(Debug, Default)]
pub struct SearchStats {
    current: RwLock<Option<(Instant, Arc<TrigramStats>)>>,
    refreshing: AtomicBool,
}

impl SearchStats {
    pub const MAX_AGE: Duration = Duration::from_secs(60);

    /// The stats to plan with, on PostgreSQL (none elsewhere, or before the first sample).
    pub fn current(self: &Arc<Self>, db: &Db) -> Option<Arc<TrigramStats>> {
        if db.backend != Backend::Postgres {
            return None;
        }
        let current = self.current.read().ok().and_then(|c| c.clone());
        let stale = current
            .as_ref()
            .is_none_or(|(taken, _)| taken.elapsed() > Self::MAX_AGE);
        if stale && !self.refreshing.swap(true, Ordering::SeqCst) {
            let (this, db) = (self.clone(), db.clone());
            tokio::spawn(async move {
                if let Err(err) = this.refresh(&db).await {
                    tracing::warn!(error = %err, "could not sample member search trigrams");
                }
                this.refreshing.store(false, Ordering::SeqCst);
            });
        }
        current.map(|(_, stats)| stats)
    }

    /// Samples the table now.
    pub async fn refresh(&self, db: &Db) -> Result<(), sqlx::Error> {
        let stats = sample(db).await?;
        if let Ok(mut current) = self.current.write() {
            *current = Some((Instant::now(), Arc::new(stats)));
        }
        Ok(())
    }
}

/// Counts the trigrams of about [`SAMPLE_ROWS`] memberships and keeps the text of about
/// [`SAMPLE_TEXTS`] (page samples: cheap at any size).
async fn sample(db: &Db) -> Result<TrigramStats, sqlx::Error> {
    let (table_rows,): (f64,) = sqlx::query_as(
        "SELECT GREATEST(reltuples, 0)::float8 FROM pg_class WHERE oid = 'memberships'::regclass",
    )
    .fetch_one(&db.pool)
    .await?;
    let percent = |rows: f64| {
        if table_rows > 0.0 {
            (rows * 100.0 / table_rows).clamp(0.01, 100.0)
        } else {
            100.0
        }
    };
    // The percentages are numbers this code computed, not input.
    let counts: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "WITH s AS (SELECT search_text FROM memberships TABLESAMPLE SYSTEM ({:.4}))
         SELECT t, COUNT(*), (SELECT COUNT(*) FROM s)
         FROM s, unnest(show_trgm(s.search_text)) AS t GROUP BY t",
        percent(SAMPLE_ROWS)
    ))
    .fetch_all(&db.pool)
    .await?;
    let texts: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT search_text FROM memberships TABLESAMPLE SYSTEM ({:.4}) LIMIT {}",
        percent(SAMPLE_TEXTS),
        SAMPLE_TEXTS as i64
    ))
    .fetch_all(&db.pool)
    .await?;
    let sampled = counts.first().map(|r| r.2).unwrap_or(0);
    Ok(TrigramStats::new(
        sampled.max(0) as usize,
        counts.into_iter().map(|(t, n, _)| (t, n)),
        texts.into_iter().map(|(t,)| t).collect(),
        table_rows.max(sampled as f64),
    ))
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
        let c = clauses(Backend::Sqlite, Some(&Term::Anywhere("a\"b".into())), None);
        assert_eq!(c.values, ["\"a\"\"b\""]);
        let c = clauses(
            Backend::Postgres,
            Some(&Term::Anywhere("50%_".into())),
            None,
        );
        assert_eq!(c.values, ["%50\\%\\_%"]);
        assert!(clauses(Backend::Sqlite, None, None).values.is_empty());
    }

    #[test]
    fn trigrams_are_pg_trgm_s_for_a_like_pattern() {
        let t = |s: &str| like_trigrams(&s.chars().collect::<Vec<_>>());
        assert_eq!(t("4242@co"), ["424", "242", "42 ", "  c", " co"]);
        assert_eq!(t("ab"), Vec::<String>::new());
        assert_eq!(t("a.b"), ["  b"]);
    }

    /// Every member's email starts `member` and ends `@corp…`: the index is given the digits.
    #[test]
    fn the_index_gets_the_rare_part_of_a_term() {
        let mut counts = Vec::new();
        for t in [
            "mem", "emb", "mbe", "ber", "  c", " co", "cor", "orp", "rp ",
        ] {
            counts.push((t.to_string(), 10_000));
        }
        counts.extend([("er4".to_string(), 1_100), ("r42".to_string(), 110)]);
        counts.extend([
            ("424".to_string(), 40),
            ("242".to_string(), 40),
            ("42 ".to_string(), 1_000),
        ]);
        // 1,000,000 members; the kept texts: every email `member…@corp…`, one row in 100 of
        // `corp17`.
        let texts: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    "person {i} member{i}@corp{}.example",
                    if i % 100 == 0 { 17 } else { 3 }
                )
            })
            .collect();
        let stats = TrigramStats::new(10_000, counts, texts, 1_000_000.0);
        let part = stats.cheapest_part("member4242@corp").expect("a part");
        assert!(part.contains("4242"), "{part}");
        assert!(!part.contains("mem") && !part.contains("cor"), "{part}");
        // Rare everywhere: the whole term is as cheap as any part.
        assert_eq!(stats.cheapest_part("zqxj"), None);
        // A small table: no sampling decision at all.
        let small = TrigramStats::new(100, [], Vec::new(), 100.0);
        assert_eq!(small.cheapest_part("member4242@corp"), None);
        assert_eq!(small.lookup("member4242@corp"), Lookup::Whole);
        // Few matches: the index, with the rare part. Many: in order.
        assert!(matches!(stats.lookup("member4242@corp"), Lookup::Part(p) if p.contains("4242")));
        assert_eq!(stats.lookup("corp17.example"), Lookup::InOrder);
        assert_eq!(stats.lookup("member"), Lookup::InOrder);
        let c = clauses(
            Backend::Postgres,
            Some(&Term::Anywhere("Member4242@corp".into())),
            Some(&stats),
        );
        assert_eq!(c.values.len(), 2, "{:?}", c.values);
        assert_eq!(c.values[1], "%member4242@corp%");
    }
}
