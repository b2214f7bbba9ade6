//! One database handle for SQLite and PostgreSQL (sqlx's `Any` driver), with the migrations
//! of each backend embedded in the binary.

pub mod read;

use crate::error::AppError;
use read::{bound, convert_rows, sqlite_read};
pub use read::{Param, ReadRow};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite: the file the per-thread read connections open (see [`read`]).
    reader: Option<std::sync::Arc<read::SqliteReader>>,
    /// SQLite: this process's writers take turns here, first come first served, before
    /// `BEGIN IMMEDIATE` (see [`Db::begin`]).
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// How long a writer waits for its turn in this process before it asks SQLite anyway: a
/// transaction that began another inside itself waits on the busy timeout, as before,
/// instead of forever.
const WRITER_TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// A transaction from [`Db::begin`]: `&mut tx` is its connection; on SQLite it also holds
/// this process's writer turn until it ends.
pub struct WriteTransaction {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (use sqlite://path or postgres://...): {0}")]
    UnsupportedUrl(String),
    #[error("cannot create the folder for the SQLite database {0}: {1}")]
    CreateDir(String, std::io::Error),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How long a request waits for a database connection before it is answered 503
/// `database_unavailable` (`--db-timeout`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl Db {
    /// [`Db::connect_with`] with the default wait for a connection.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Connects; for SQLite creates the file (and its folder) when missing and turns on WAL.
    /// A request waits at most `acquire_timeout` for a connection: while the database is
    /// unreachable, every request is answered within it.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let reader = (backend == Backend::Sqlite)
            .then(|| sqlite_path(&url))
            .flatten()
            .map(|path| std::sync::Arc::new(read::SqliteReader { path }));
        let options = AnyConnectOptions::from_str(&url)?;
        if backend == Backend::Sqlite {
            // WAL is a property of the database file: readers never block the writer. Set it on
            // a connection of its own before the pool opens its connections (changing the
            // journal mode while other connections open the file can silently not happen).
            let mut conn = sqlx::AnyConnection::connect_with(&options).await?;
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode = WAL")
                .fetch_one(&mut conn)
                .await?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(DbError::Sqlx(sqlx::Error::Configuration(
                    format!("SQLite refused WAL mode (journal mode is {mode})").into(),
                )));
            }
            conn.close().await?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            // Open every connection at start and keep it: a connection opened in the middle of
            // a request costs that request its setup (the PRAGMAs below, or a PostgreSQL
            // handshake).
            .min_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 4,
            })
            .idle_timeout(None)
            .acquire_timeout(acquire_timeout)
            // No ping before each use: for PostgreSQL it was a second round trip on every
            // request (an API call is one query). A connection the server dropped fails its
            // next query, which answers 500 once, and the pool replaces it.
            .test_before_acquire(false)
            // A connection that comes back still inside a transaction is not used again. The
            // case: SQLite rolls a transaction back by itself when the disk is full, sqlx
            // still counts it open, its ROLLBACK fails, and its next BEGIN becomes a SAVEPOINT
            // that holds the write lock for good (every other writer: "database is locked").
            // A connection released while its rollback is still on its way is closed too: a
            // new one costs little on a path that only errors take.
            .after_release(|conn, _meta| {
                let healthy = !sqlx::Connection::is_in_transaction(conn);
                Box::pin(async move { Ok(healthy) })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per-connection settings: wait for the write lock instead of failing,
                        // enforce foreign keys, and the usual durability trade-off for WAL.
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            backend,
            reader,
            writers: Default::default(),
        })
    }

    /// A transaction that may write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that read first cannot take the lock later once
    /// another connection has written since its read (SQLITE_BUSY_SNAPSHOT, at once; the
    /// busy timeout does not wait that out), so any background write, a key's last use say,
    /// could fail the request beside it with a 500. This process's writers first take turns
    /// in order: on the busy timeout alone, a waiting writer sleeps between tries (up to 100
    /// ms at a time), and under concurrent writes the slowest waited 330 ms (p99 of SCIM
    /// creates, scripts/bench-scim.sh). Another process still meets the busy timeout. On
    /// PostgreSQL a plain `BEGIN`.
    pub async fn begin(&self) -> Result<WriteTransaction, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn =
                    tokio::time::timeout(WRITER_TURN_TIMEOUT, self.writers.clone().lock_owned())
                        .await
                        .ok();
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTransaction { tx, _turn: turn })
            }
            Backend::Postgres => Ok(WriteTransaction {
                tx: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    fn embedded(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies the embedded migrations this database lacks. A database already migrated by a
    /// newer build (a rolling upgrade: a replica of the next version started first) is
    /// accepted: migrations only add, so this build's queries still hold.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.migrate_up_to(i64::MAX).await
    }

    /// [`Db::migrate`], up to and including `version` only: an earlier version's schema, for
    /// the upgrade tests.
    pub async fn migrate_up_to(&self, version: i64) -> Result<(), DbError> {
        let embedded = self.embedded();
        let migrator = sqlx::migrate::Migrator {
            migrations: embedded
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ignore_missing: true,
            locking: embedded.locking,
            no_tx: embedded.no_tx,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The versions of the embedded migrations, oldest first.
    pub fn migration_versions(&self) -> Vec<i64> {
        self.embedded().iter().map(|m| m.version).collect()
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// [`Db::ping`] within `limit`: a health check answers in time whatever the database does.
    pub async fn ping_within(&self, limit: Duration) -> Result<(), String> {
        match tokio::time::timeout(limit, self.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        }
    }
}

/// `sqlite://data/gatehouse.db` -> creates `data/` and asks SQLite to create the file.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| DbError::CreateDir(parent.display().to_string(), e))?;
            }
        }
    }
    let mut url = format!("sqlite://{path}");
    if query.is_empty() {
        url.push_str("?mode=rwc");
    } else if query.contains("mode=") {
        url.push('?');
        url.push_str(query);
    } else {
        url.push_str("?mode=rwc&");
        url.push_str(query);
    }
    Ok(url)
}

/// The file of a `sqlite://path?…` URL (none for an in-memory database).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// `term` with LIKE's wildcards escaped (for `LIKE … ESCAPE '\\'`).
pub fn escape_like(term: &str) -> String {
    term.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A lower-cased `%term%` pattern for a search box, or `None` when it is empty.
pub fn contains_pattern(search: Option<&str>) -> Option<String> {
    search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", escape_like(&s.to_lowercase())))
}

impl Db {
    /// Runs a read (`$1`… placeholders, as everywhere) and returns its rows: on the calling
    /// thread for SQLite, through the pool for PostgreSQL.
    pub async fn read(&self, sql: &str, params: &[Param]) -> Result<Vec<ReadRow>, AppError> {
        match (&self.backend, &self.reader) {
            (Backend::Sqlite, Some(reader)) => sqlite_read(reader, sql, params).map_err(|err| {
                tracing::error!(error = %err, "database read");
                AppError::Internal
            }),
            _ => self.read_pooled(sql, params).await,
        }
    }

    /// A read through the pool, off the request's thread, on both databases: for reads that
    /// may take long (a search that sorts many matches).
    pub async fn read_pooled(&self, sql: &str, params: &[Param]) -> Result<Vec<ReadRow>, AppError> {
        let rows = bound(sql, params).fetch_all(&self.pool).await?;
        convert_rows(&rows)
    }

    /// [`read_pooled`](Self::read_pooled) for a read that should walk an index in order and
    /// stop at its `LIMIT`: on PostgreSQL without parallel workers, which the planner picks
    /// when it expects few rows to pass a filter, and whose start-up alone costs several
    /// milliseconds.
    pub async fn read_pooled_serial(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<ReadRow>, AppError> {
        if self.backend != Backend::Postgres {
            return self.read_pooled(sql, params).await;
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0")
            .execute(&mut *tx)
            .await?;
        let rows = bound(sql, params).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        convert_rows(&rows)
    }

    /// The first row of a read, if any.
    pub async fn read_one(&self, sql: &str, params: &[Param]) -> Result<Option<ReadRow>, AppError> {
        Ok(self.read(sql, params).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::Db;
    use std::time::Duration;

    /// A transaction that read first still writes when another connection wrote meanwhile
    /// (as a key's last-use update does beside a request): with a deferred `BEGIN` its write
    /// failed at once with SQLITE_BUSY_SNAPSHOT, and the request with a 500.
    #[tokio::test]
    async fn a_transaction_that_read_first_writes_after_another_connection_wrote() {
        let dir = std::env::temp_dir().join(format!("gatehouse-begin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = format!("sqlite://{}/t.db", dir.display());
        let db = Db::connect(&url).await.expect("database");
        for statement in [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
            "INSERT INTO t (id, n) VALUES (1, 0), (2, 0)",
        ] {
            sqlx::query(statement)
                .execute(&db.pool)
                .await
                .expect(statement);
        }

        let mut tx = db.begin().await.expect("begin");
        let (n,): (i64,) = sqlx::query_as("SELECT n FROM t WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .expect("read");
        let pool = db.pool.clone();
        let mut other = tokio::spawn(async move {
            sqlx::query("UPDATE t SET n = n + 1 WHERE id = 2")
                .execute(&pool)
                .await
        });
        // A deferred transaction lets the other write commit now; an immediate one makes it
        // wait for this commit.
        let finished_first = tokio::time::timeout(Duration::from_millis(300), &mut other)
            .await
            .is_ok();
        sqlx::query("UPDATE t SET n = $1 WHERE id = 1")
            .bind(n + 1)
            .execute(&mut *tx)
            .await
            .expect("the write after the read");
        tx.commit().await.expect("commit");
        assert!(!finished_first, "the other write did not wait for the lock");
        other
            .await
            .expect("the other write's task")
            .expect("the other write");
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, n FROM t ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("read back");
        assert_eq!(rows, vec![(1, 1), (2, 1)]);
        db.pool.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
