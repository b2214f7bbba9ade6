//! What the instance operator (someone with shell access to the server, not a web user) can do
//! through `gatehouse admin`: look up accounts and organizations, and get people out of
//! lockouts. Every change is one transaction with its audit event, recorded as done by the
//! operator (their host user name), in the audit log of each organization concerned.

use crate::audit::{self, Event};
use crate::db::Db;
use crate::domain::{Email, Role};
use crate::error::AppError;

/// Who ran the command, as the audit log records it (`alice@db-host`).
#[derive(Debug, Clone)]
pub struct Operator(pub String);

impl Operator {
    fn event(&self, action: &'static str, target: String) -> Event {
        Event::new(action, target)
            .details(serde_json::json!({"by": "operator", "operator": self.0}))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub created_at: i64,
    pub two_factor: bool,
    pub disabled: bool,
    pub organizations: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org_id: i64,
    pub org_name: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    pub user: UserSummary,
    pub memberships: Vec<Membership>,
    pub recovery_codes: i64,
    pub sessions: i64,
    pub active_api_keys: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSummary {
    pub id: i64,
    pub name: String,
    pub members: i64,
    pub owners: Vec<String>,
    pub require_two_factor: bool,
}

const USER_COLUMNS: &str = "u.id, u.email, u.name, u.created_at, u.two_factor_at, u.disabled_at,
     (SELECT COUNT(*) FROM memberships m WHERE m.user_id = u.id)";

type UserTuple = (i64, String, String, i64, Option<i64>, Option<i64>, i64);

fn summary(row: UserTuple) -> UserSummary {
    let (id, email, name, created_at, totp, disabled, organizations) = row;
    UserSummary {
        id,
        email,
        name,
        created_at,
        two_factor: totp.is_some(),
        disabled: disabled.is_some(),
        organizations,
    }
}

/// Every account, oldest first.
pub async fn list_users(db: &Db) -> Result<Vec<UserSummary>, AppError> {
    let rows: Vec<UserTuple> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"))
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(summary).collect())
}

fn parse_email(raw: &str) -> Result<Email, AppError> {
    Email::parse(raw)
        .map_err(|_| AppError::invalid("email", format!("{raw:?} is not an email address.")))
}

async fn find_user<'c, E>(executor: E, email: &Email) -> Result<UserSummary, AppError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row: Option<UserTuple> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.email_normalized = $1"
    ))
    .bind(email.normalized())
    .fetch_optional(executor)
    .await?;
    row.map(summary).ok_or_else(|| {
        AppError::invalid(
            "email",
            format!("No account has the email {}.", email.as_str()),
        )
    })
}

/// One account, with its memberships, recovery codes, sessions and API keys.
pub async fn show_user(db: &Db, raw_email: &str) -> Result<UserDetail, AppError> {
    let email = parse_email(raw_email)?;
    let user = find_user(&db.pool, &email).await?;
    let memberships: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.name, o.id",
    )
    .bind(user.id)
    .fetch_all(&db.pool)
    .await?;
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        let id = user.id;
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).bind(id).fetch_one(&pool).await?;
            Ok::<i64, AppError>(n)
        }
    };
    Ok(UserDetail {
        recovery_codes: count("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1").await?,
        sessions: count("SELECT COUNT(*) FROM sessions WHERE user_id = $1").await?,
        active_api_keys: count(
            "SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .await?,
        memberships: memberships
            .into_iter()
            .map(|(org_id, org_name, role)| Membership {
                org_id,
                org_name,
                role,
            })
            .collect(),
        user,
    })
}

/// What `reset-two-factor` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorReset {
    pub user: UserSummary,
    pub recovery_codes_removed: i64,
    pub sessions_ended: u64,
}

/// Removes a user's second factors (they enroll again; an organization that requires 2FA lets
/// them in only once they have, as for any member without it) and ends their sessions.
pub async fn reset_two_factor(
    db: &Db,
    now: i64,
    operator: &Operator,
    raw_email: &str,
) -> Result<TwoFactorReset, AppError> {
    let email = parse_email(raw_email)?;
    let mut tx = db.begin().await?;
    // A write first: on SQLite the transaction takes the write lock now, not on upgrade.
    sqlx::query("UPDATE users SET totp_secret = totp_secret WHERE email_normalized = $1")
        .bind(email.normalized())
        .execute(&mut *tx)
        .await?;
    let user = find_user(&mut *tx, &email).await?;
    let removed = crate::two_factor::server::reset_factors(&mut tx, user.id).await?;
    audit::record_for_user_at(
        &mut tx,
        now,
        user.id,
        operator.event("user.two_factor_reset", format!("user:{}", user.id)),
    )
    .await?;
    tx.commit().await?;
    Ok(TwoFactorReset {
        user,
        recovery_codes_removed: removed.recovery_codes_removed,
        sessions_ended: removed.sessions_ended,
    })
}

/// What `grant-owner` changed: the role the user had before (None: not a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerGranted {
    pub user: UserSummary,
    pub org_id: i64,
    pub org_name: String,
    pub previous_role: Option<Role>,
}

/// Makes the user an Owner of the organization (by id, or by its exact name when that names
/// one organization), adding them as a member when they are not one.
pub async fn grant_owner(
    db: &Db,
    now: i64,
    operator: &Operator,
    raw_email: &str,
    org: &str,
) -> Result<OwnerGranted, AppError> {
    let email = parse_email(raw_email)?;
    let org = org.trim();
    let matches: Vec<(i64, String)> = match org.parse::<i64>() {
        Ok(id) => {
            sqlx::query_as("SELECT id, name FROM organizations WHERE id = $1")
                .bind(id)
                .fetch_all(&db.pool)
                .await?
        }
        Err(_) => {
            sqlx::query_as("SELECT id, name FROM organizations WHERE name = $1 ORDER BY id")
                .bind(org)
                .fetch_all(&db.pool)
                .await?
        }
    };
    let (org_id, org_name) = match matches.as_slice() {
        [] => {
            return Err(AppError::invalid(
                "org",
                format!(
                    "No organization has the id or name {org:?} (see `gatehouse admin orgs list`)."
                ),
            ))
        }
        [one] => one.clone(),
        many => {
            let ids: Vec<String> = many.iter().map(|(id, _)| id.to_string()).collect();
            return Err(AppError::invalid(
                "org",
                format!(
                    "{} organizations are named {org:?} (ids {}): give the id.",
                    many.len(),
                    ids.join(", ")
                ),
            ));
        }
    };
    let mut tx = db.begin().await?;
    crate::orgs::store::lock_org(&mut tx, org_id).await?;
    let user = find_user(&mut *tx, &email).await?;
    let previous_role = crate::orgs::store::membership(&mut *tx, org_id, user.id).await?;
    match previous_role {
        Some(Role::Owner) => {}
        Some(_) => {
            sqlx::query("UPDATE memberships SET role = 'owner' WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
        }
        None => {
            sqlx::query(
                "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
                 VALUES ($1, $2, 'owner', $3, $4)",
            )
            .bind(org_id)
            .bind(user.id)
            .bind(now)
            .bind(&user.name)
            .execute(&mut *tx)
            .await?;
        }
    }
    if previous_role != Some(Role::Owner) {
        let from = previous_role.map(Role::as_str);
        let mut event = operator.event("member.owner_granted", format!("user:{}", user.id));
        event.details["from"] = serde_json::json!(from);
        event.details["to"] = serde_json::json!("owner");
        audit::record_at(&mut tx, now, event.org(org_id)).await?;
    }
    tx.commit().await?;
    Ok(OwnerGranted {
        user,
        org_id,
        org_name,
        previous_role,
    })
}

/// What `disable-user` / `enable-user` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledChanged {
    pub user: UserSummary,
    /// False when the account already was in that state (nothing changed).
    pub changed: bool,
    pub sessions_ended: u64,
}

/// Disables an account (it cannot sign in; its sessions end now and its API keys are refused
/// from the next request) or enables it again.
pub async fn set_disabled(
    db: &Db,
    now: i64,
    operator: &Operator,
    raw_email: &str,
    disabled: bool,
) -> Result<DisabledChanged, AppError> {
    let email = parse_email(raw_email)?;
    let mut tx = db.begin().await?;
    let changed = if disabled {
        sqlx::query(
            "UPDATE users SET disabled_at = $1 WHERE email_normalized = $2 AND disabled_at IS NULL",
        )
        .bind(now)
        .bind(email.normalized())
        .execute(&mut *tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE users SET disabled_at = NULL WHERE email_normalized = $1 AND disabled_at IS NOT NULL",
        )
        .bind(email.normalized())
        .execute(&mut *tx)
        .await?
    }
    .rows_affected()
        == 1;
    let user = find_user(&mut *tx, &email).await?;
    let mut sessions_ended = 0;
    if changed {
        if disabled {
            sessions_ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM sign_in_challenges WHERE user_id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
        }
        let action = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        audit::record_for_user_at(
            &mut tx,
            now,
            user.id,
            operator.event(action, format!("user:{}", user.id)),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(DisabledChanged {
        user,
        changed,
        sessions_ended,
    })
}

/// Every organization, with its member count and Owners.
pub async fn list_orgs(db: &Db) -> Result<Vec<OrgSummary>, AppError> {
    let orgs: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT o.id, o.name, o.require_two_factor,
                (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id)
         FROM organizations o ORDER BY o.id",
    )
    .fetch_all(&db.pool)
    .await?;
    let owners: Vec<(i64, String)> = sqlx::query_as(
        "SELECT m.org_id, u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.role = 'owner' ORDER BY m.org_id, u.email",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut owners_of: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for (org_id, email) in owners {
        owners_of.entry(org_id).or_default().push(email);
    }
    Ok(orgs
        .into_iter()
        .map(|(id, name, require_two_factor, members)| OrgSummary {
            id,
            name,
            members,
            owners: owners_of.remove(&id).unwrap_or_default(),
            require_two_factor: require_two_factor != 0,
        })
        .collect())
}
