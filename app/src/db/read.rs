//! Reads that run on the calling thread, for the queries every request makes (the session,
//! the user's organizations, an API key) and the small pages built on indexes.
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is a message to that
//! thread and its rows messages back, and under load those thread switches were a third of a
//! page's CPU (perf: futex waits and task switches; about 40 µs of system time per query).
//! For SQLite these reads use a read-only connection kept per thread (rusqlite on the same
//! SQLite library), so an indexed read costs microseconds of the request's own thread. In WAL
//! mode a reader never waits for the writer and sees every transaction committed before its
//! statement began, so nothing is cached: a change is visible to the very next read, in this
//! process or any other. PostgreSQL reads go through sqlx as before.
//!
//! Only for statements that an index bounds: a read here holds its thread while it runs.

use crate::error::AppError;
use sqlx::Row as _;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

/// A parameter of a read.
#[derive(Debug, Clone)]
pub enum Param {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_string()))
    }
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}

impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// A row of a read; columns by position.
#[derive(Debug, Clone)]
pub struct ReadRow(Vec<Value>);

fn column_error(i: usize, wanted: &str) -> AppError {
    tracing::error!(column = i, wanted, "a read's column has another type");
    AppError::Internal
}

impl ReadRow {
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, AppError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(Some(*v)),
            Some(Value::Null) => Ok(None),
            _ => Err(column_error(i, "integer")),
        }
    }

    pub fn i64(&self, i: usize) -> Result<i64, AppError> {
        self.opt_i64(i)?.ok_or_else(|| column_error(i, "integer"))
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, AppError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(Some(v.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(column_error(i, "text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, AppError> {
        self.opt_text(i)?.ok_or_else(|| column_error(i, "text"))
    }
}

/// Identifies one SQLite database for the per-thread connections; when the [`Db`] holding
/// it is gone, the threads drop their connections to it.
#[derive(Debug)]
pub struct SqliteReader {
    pub path: PathBuf,
}

thread_local! {
    static READERS: RefCell<HashMap<usize, (Weak<SqliteReader>, rusqlite::Connection)>> =
        RefCell::new(HashMap::new());
}

pub(super) fn sqlite_read(
    reader: &Arc<SqliteReader>,
    sql: &str,
    params: &[Param],
) -> Result<Vec<ReadRow>, rusqlite::Error> {
    READERS.with(|cell| {
        let mut readers = cell.borrow_mut();
        // The allocation's address names the database: a Weak keeps it from being reused.
        let id = Arc::as_ptr(reader) as usize;
        if !readers.contains_key(&id) {
            // Databases that were closed (tests start hundreds) give their connections back.
            readers.retain(|_, (weak, _)| weak.strong_count() > 0);
            let conn = rusqlite::Connection::open_with_flags(
                &reader.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // A reader waits for the writer only in rare moments of the WAL (its restart).
            conn.busy_timeout(std::time::Duration::from_millis(250))?;
            conn.set_prepared_statement_cache_capacity(64);
            readers.insert(id, (Arc::downgrade(reader), conn));
        }
        let (_, conn) = readers.get(&id).ok_or(rusqlite::Error::InvalidQuery)?;
        let mut statement = conn.prepare_cached(sql)?;
        // SQLite numbers `$n` parameters in the order they first appear, which need not be n:
        // bind each by its name, as sqlx does.
        for index in 1..=statement.parameter_count() {
            let position = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or(rusqlite::Error::InvalidParameterCount(index, params.len()))?;
            let value = match params.get(position - 1) {
                Some(Param::Int(Some(v))) => rusqlite::types::Value::Integer(*v),
                Some(Param::Text(Some(v))) => rusqlite::types::Value::Text(v.clone()),
                Some(Param::Int(None) | Param::Text(None)) => rusqlite::types::Value::Null,
                None => {
                    return Err(rusqlite::Error::InvalidParameterCount(
                        position,
                        params.len(),
                    ))
                }
            };
            statement.raw_bind_parameter(index, value)?;
        }
        let columns = statement.column_count();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(columns);
            for i in 0..columns {
                cells.push(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                    rusqlite::types::ValueRef::Text(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Real(v) => Value::Int(v as i64),
                    rusqlite::types::ValueRef::Blob(b) => {
                        Value::Text(String::from_utf8_lossy(b).into_owned())
                    }
                });
            }
            out.push(ReadRow(cells));
        }
        Ok(out)
    })
}

/// `sql` with `params` bound in order, for the pool.
pub(super) fn bound<'q>(
    sql: &'q str,
    params: &[Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    params.iter().fold(sqlx::query(sql), |query, p| match p {
        Param::Int(v) => query.bind(*v),
        Param::Text(v) => query.bind(v.clone()),
    })
}

pub(super) fn convert_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<ReadRow>, AppError> {
    {
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        use sqlx::any::AnyTypeInfoKind as Kind;
                        use sqlx::ValueRef;
                        let raw = row.try_get_raw(i)?;
                        if raw.is_null() {
                            return Ok(Value::Null);
                        }
                        match raw.type_info().kind() {
                            Kind::SmallInt | Kind::Integer | Kind::BigInt | Kind::Bool => {
                                row.try_get::<i64, _>(i).map(Value::Int)
                            }
                            _ => row.try_get::<String, _>(i).map(Value::Text),
                        }
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map(ReadRow)
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(AppError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Db;

    #[tokio::test]
    async fn parameters_bind_by_their_number_on_both_paths() {
        let dir = std::env::temp_dir().join(format!("gatehouse-read-{}", std::process::id()));
        let url = format!("sqlite://{}/t.db", dir.display());
        let db = Db::connect(&url).await.expect("database");
        let sql = "SELECT $3, $1, $2, $1";
        let params = [7i64.into(), "two".into(), None::<i64>.into()];
        for rows in [
            db.read(sql, &params).await.expect("read"),
            db.read_pooled(sql, &params).await.expect("pooled read"),
            db.read_pooled_serial(sql, &params)
                .await
                .expect("serial read"),
        ] {
            let row = &rows[0];
            assert_eq!(row.opt_i64(0).expect("column 0"), None);
            assert_eq!(row.i64(1).expect("column 1"), 7);
            assert_eq!(row.text(2).expect("column 2"), "two");
            assert_eq!(row.i64(3).expect("column 3"), 7);
        }
        db.pool.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
