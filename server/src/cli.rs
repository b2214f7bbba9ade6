//! The command line: the settings (`config`) and the subcommands, each defined by its own
//! module. Only aggregates.

use crate::config::Config;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse: organization administration console"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and API (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// A reference scan runner: claims scans over the REST API and (with --simulate) finishes
    /// them after a random delay.
    Runner(crate::runner::RunnerArgs),
    /// Write a consistent copy of the SQLite database to FILE while the server keeps serving
    /// (for PostgreSQL, it names the pg_dump command to use).
    Backup(crate::backup::BackupArgs),
    /// The instance operator's commands: list accounts and organizations, reset an account's
    /// two-factor authentication, grant Owner, disable or enable an account.
    #[command(subcommand)]
    Admin(crate::admin::AdminCommand),
}
