//! `gatehouse admin …`: the instance operator's way out of lockouts, run on the server with the
//! same `--data-dir` / `--database-url` as `serve`, safely while it serves (each change is one
//! short transaction). The work is in `app::operator`; this is the command line around it.

use crate::config::Config;
use app::db::Db;
use app::error::AppError;
use app::operator::{self, Operator, UserSummary};
use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// List accounts, or show one.
    #[command(subcommand)]
    Users(UsersCommand),
    /// List organizations with their Owners.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Remove an account's second factors (TOTP and recovery codes) and end its sessions; the
    /// person signs in with their password and enrolls again.
    ResetTwoFactor(EmailArg),
    /// Make an account an Owner of an organization (adding it as a member if needed).
    GrantOwner(GrantOwnerArgs),
    /// Disable an account: it cannot sign in, its sessions end and its API keys are refused.
    DisableUser(EmailArg),
    /// Enable a disabled account again.
    EnableUser(EmailArg),
    /// The audit log's hash chains.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Walk each organization's chain (or one) and name the first event that was changed,
    /// removed or reordered, a checkpoint that does not hold, or a cut tail. Exits 1 if any.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// One organization's id (`0`: the events without an organization); every chain if left out.
    #[arg(long)]
    pub org: Option<i64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Every account, oldest first.
    List,
    /// One account: its organizations and roles, two-factor state, sessions, API keys.
    Show(EmailArg),
}

#[derive(Debug, clap::Subcommand)]
pub enum OrgsCommand {
    /// Every organization: members, Owners, whether it requires two-factor authentication.
    List,
}

#[derive(Debug, clap::Args)]
pub struct EmailArg {
    /// The account's email address.
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, clap::Args)]
pub struct GrantOwnerArgs {
    /// The account's email address.
    #[arg(long)]
    pub email: String,
    /// The organization's id, or its name when no other organization has that name.
    #[arg(long)]
    pub org: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Wrong use (unknown email or organization…): nothing changed; exit code 2.
    #[error("{0}")]
    Usage(String),
    #[error("database: {0}")]
    Db(#[from] app::db::DbError),
    #[error("{0}")]
    Failed(String),
}

impl From<AppError> for AdminError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::NotFound => {
                Self::Usage(err.to_string())
            }
            // Server-side causes are logged where they are converted.
            other => Self::Failed(format!("{other} (see the log above)")),
        }
    }
}

/// The operator's name for the audit log: the login behind sudo when there is one, and the host.
fn operator() -> Operator {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    Operator(format!("{user}@{host}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Opens the server's database; a SQLite file that does not exist is a wrong `--data-dir`,
/// not an empty instance to create.
async fn open(config: &Config) -> Result<Db, AdminError> {
    let url = config.database_url();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or_default();
        if !Path::new(path).exists() {
            return Err(AdminError::Usage(format!(
                "there is no database at {path}: give the server's --data-dir or --database-url"
            )));
        }
    }
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    Ok(db)
}

fn user_line(u: &UserSummary) -> String {
    format!(
        "{:>6}  {:<32} {:<24} 2FA {:<3}  {:<8}  orgs {}",
        u.id,
        u.email,
        u.name,
        if u.two_factor { "on" } else { "off" },
        if u.disabled { "disabled" } else { "active" },
        u.organizations
    )
}

pub async fn run(config: &Config, command: &AdminCommand) -> Result<(), AdminError> {
    let db = open(config).await?;
    let result = execute(config, &db, command).await;
    if result.is_ok() && command.changes() {
        wait_for_servers(&db, &config.database_url()).await;
    }
    db.pool.close().await;
    result
}

/// Running servers on PostgreSQL keep API keys in memory and forget them when the database
/// tells them of a change: the command ends once each has applied this one, so a key it
/// disabled is refused on the very next request.
async fn wait_for_servers(db: &Db, url: &str) {
    match app::api_keys::server::cache::wait_for_replicas(db, url).await {
        Ok((_, 0)) => {}
        Ok((answered, listening)) if answered == listening => {
            println!("Running servers that applied the change: {answered} of {listening}");
        }
        Ok((answered, listening)) => eprintln!(
            "warning: running servers that applied the change in time: {answered} of \
             {listening}; the others apply it when PostgreSQL's notification reaches them"
        ),
        // The change is made; only the confirmation is missing.
        Err(err) => eprintln!("warning: could not ask the running servers: {err}"),
    }
}

impl AdminCommand {
    /// Whether the command changes anything (the listings only read).
    fn changes(&self) -> bool {
        !matches!(self, Self::Users(_) | Self::Orgs(_) | Self::Audit(_))
    }
}

/// `gatehouse admin audit verify`: a line per chain; exit 1 when any is broken.
async fn verify_audit(config: &Config, db: &Db, args: &VerifyArgs) -> Result<(), AdminError> {
    let secret =
        app::crypto::SecretKey::load_or_create(config.secret_key.as_deref(), &config.data_dir)
            .map_err(|e| AdminError::Failed(format!("the server key: {e}")))?;
    let chains = match args.org {
        Some(org) => vec![(org != 0).then_some(org)],
        None => app::audit::chain::chains(&db.pool).await?,
    };
    let mut broken = 0;
    for org in chains {
        let report = app::audit::chain::verify(&db.pool, &secret, org).await?;
        let name = match org {
            Some(id) => format!("organization {id}"),
            None => "events without an organization".to_string(),
        };
        let pending = match report.unchained {
            0 => String::new(),
            n => format!("; {n} not chained yet (chained at the next write)"),
        };
        match &report.broken {
            None => println!(
                "{name}: intact, {} events, {} checkpoints{pending}",
                report.events, report.checkpoints
            ),
            Some(why) => {
                broken += 1;
                println!(
                    "{name}: BROKEN after {} intact events: {why}{pending}",
                    report.events
                );
            }
        }
    }
    match broken {
        0 => Ok(()),
        n => Err(AdminError::Failed(format!(
            "{n} audit chain(s) broken: the log was altered outside Gatehouse"
        ))),
    }
}

async fn execute(config: &Config, db: &Db, command: &AdminCommand) -> Result<(), AdminError> {
    match command {
        AdminCommand::Audit(AuditCommand::Verify(args)) => verify_audit(config, db, args).await?,
        AdminCommand::Users(UsersCommand::List) => {
            let users = operator::list_users(db).await?;
            println!(
                "{:>6}  {:<32} {:<24} {:<7}  {:<8}  organizations",
                "id", "email", "name", "2FA", "state"
            );
            for user in &users {
                println!("{}", user_line(user));
            }
            println!("{} accounts", users.len());
        }
        AdminCommand::Users(UsersCommand::Show(args)) => {
            let detail = operator::show_user(db, &args.email).await?;
            let u = &detail.user;
            println!("Account {} <{}> (id {})", u.name, u.email, u.id);
            println!("  created          {}", app::dates::date_time(u.created_at));
            println!(
                "  state            {}",
                if u.disabled { "disabled" } else { "active" }
            );
            println!(
                "  two-factor       {} ({} recovery codes left)",
                if u.two_factor { "on" } else { "off" },
                detail.recovery_codes
            );
            println!("  sessions         {}", detail.sessions);
            println!("  active API keys  {}", detail.active_api_keys);
            println!("  organizations    {}", detail.memberships.len());
            for m in &detail.memberships {
                println!("    {:>6}  {:<32} {}", m.org_id, m.org_name, m.role);
            }
        }
        AdminCommand::Orgs(OrgsCommand::List) => {
            let orgs = operator::list_orgs(db).await?;
            println!(
                "{:>6}  {:<32} {:>7}  {:<11}  owners",
                "id", "name", "members", "require 2FA"
            );
            for org in &orgs {
                println!(
                    "{:>6}  {:<32} {:>7}  {:<11}  {}",
                    org.id,
                    org.name,
                    org.members,
                    if org.require_two_factor { "yes" } else { "no" },
                    if org.owners.is_empty() {
                        "(none)".to_string()
                    } else {
                        org.owners.join(", ")
                    }
                );
            }
            println!("{} organizations", orgs.len());
        }
        AdminCommand::ResetTwoFactor(args) => {
            let done = operator::reset_two_factor(db, now(), &operator(), &args.email).await?;
            let u = &done.user;
            if u.two_factor || done.recovery_codes_removed > 0 {
                println!(
                    "Removed the two-factor authentication of {} <{}>: the authenticator app and {} recovery codes no longer work.",
                    u.name, u.email, done.recovery_codes_removed
                );
            } else {
                println!(
                    "{} <{}> had no two-factor authentication; nothing to remove.",
                    u.name, u.email
                );
            }
            println!(
                "Ended {} sessions. They sign in with their password and turn two-factor authentication on again on their profile page; an organization that requires it lets them in once they have.",
                done.sessions_ended
            );
        }
        AdminCommand::GrantOwner(args) => {
            let done =
                operator::grant_owner(db, now(), &operator(), &args.email, &args.org).await?;
            let u = &done.user;
            match done.previous_role {
                Some(app::domain::Role::Owner) => println!(
                    "{} <{}> is already an Owner of {} (id {}); nothing changed.",
                    u.name, u.email, done.org_name, done.org_id
                ),
                Some(role) => println!(
                    "{} <{}> is now an Owner of {} (id {}); their role was {}.",
                    u.name,
                    u.email,
                    done.org_name,
                    done.org_id,
                    role.as_str()
                ),
                None => println!(
                    "{} <{}> joined {} (id {}) as an Owner.",
                    u.name, u.email, done.org_name, done.org_id
                ),
            }
        }
        AdminCommand::DisableUser(args) | AdminCommand::EnableUser(args) => {
            let disable = matches!(command, AdminCommand::DisableUser(_));
            let done = operator::set_disabled(db, now(), &operator(), &args.email, disable).await?;
            let u = &done.user;
            match (done.changed, disable) {
                (false, true) => println!("{} <{}> is already disabled; nothing changed.", u.name, u.email),
                (false, false) => println!("{} <{}> is not disabled; nothing changed.", u.name, u.email),
                (true, true) => println!(
                    "Disabled {} <{}>: ended {} sessions; sign-in and their API keys are refused until `gatehouse admin enable-user --email {}`.",
                    u.name, u.email, done.sessions_ended, u.email
                ),
                (true, false) => println!(
                    "Enabled {} <{}>: they can sign in again, and their API keys that are neither revoked nor expired work again.",
                    u.name, u.email
                ),
            }
        }
    }
    Ok(())
}
