//! `gatehouse backup FILE`: a consistent copy of the SQLite database, taken while the server
//! keeps serving. SQLite's `VACUUM INTO` reads one snapshot (a read transaction; in WAL mode
//! writers go on meanwhile) and writes it to a new file: every transaction committed before
//! the copy began is in it, none that committed later is half in it.

use crate::config::Config;
use app::db::{Backend, Db};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The file to write (it must not exist yet).
    pub file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Wrong use: the message says what to do; exit code 2.
    #[error("{0}")]
    Usage(String),
    #[error("database: {0}")]
    Db(#[from] app::db::DbError),
    #[error("backup: {0}")]
    Sqlx(#[from] sqlx::Error),
}

pub async fn run(config: &Config, args: &BackupArgs) -> Result<(), BackupError> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        return Err(BackupError::Usage(format!(
            "the database is PostgreSQL: back it up with pg_dump, e.g.\n  pg_dump --format=custom --file {} '{}'",
            args.file.display(),
            crate::telemetry::redact(&url)
        )));
    }
    let db_path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    if !Path::new(&db_path).exists() {
        return Err(BackupError::Usage(format!(
            "there is no database at {db_path}: give the server's --data-dir or --database-url"
        )));
    }
    if args.file.exists() {
        return Err(BackupError::Usage(format!(
            "{} exists already: choose a new file name",
            args.file.display()
        )));
    }
    let target = args.file.to_str().ok_or_else(|| {
        BackupError::Usage(format!("{} is not a UTF-8 path", args.file.display()))
    })?;
    let db = Db::connect(&url).await?;
    debug_assert_eq!(db.backend, Backend::Sqlite);
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&db.pool)
        .await?;
    db.pool.close().await;
    let bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let key = if config.secret_key.is_some() {
        "given by --secret-key / GATEHOUSE_SECRET_KEY".to_string()
    } else {
        format!("in {}", config.data_dir.join("secret.key").display())
    };
    println!(
        "Backed up {db_path} to {} ({bytes} bytes): a consistent copy as of now.\n\
         The server key is not in the backup: it is {key}. Keep a copy of it apart from the \
         backup; without it the two-factor and integration secrets in the backup cannot be read.\n\
         To restore: stop Gatehouse, put the backup at {db_path} (delete any {db_path}-wal and \
         {db_path}-shm beside it), put the key back, start Gatehouse.",
        args.file.display()
    );
    Ok(())
}
