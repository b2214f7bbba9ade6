//! SQL for users and sessions.

use crate::domain::{Email, OrgName, PersonName, Role};
use crate::error::AppError;
use crate::state::AppState;

pub struct SessionRow {
    pub user_id: i64,
    pub authenticated_at: i64,
    pub current_org_id: Option<i64>,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub name: String,
    pub email: String,
    pub two_factor_at: Option<i64>,
    pub totp_enabled_at: Option<i64>,
    /// When the soonest-expiring key with an undismissed expiry warning expires.
    pub key_expiry_at: Option<i64>,
    /// The organization whose single sign-on this session came through.
    pub sso_org_id: Option<i64>,
    /// How the session was proven (`sessions.methods`).
    pub methods: String,
    pub passkey_at: Option<i64>,
}

/// The session with this id hash, and its user: read on every signed-in request.
pub async fn find_session(
    state: &AppState,
    id_hash: &str,
    now: i64,
) -> Result<Option<SessionRow>, AppError> {
    let row = state
        .db
        .read_one(
            "SELECT s.user_id, s.current_org_id, s.last_seen_at, s.expires_at, u.name, u.email,
                    s.authenticated_at, u.two_factor_at, u.totp_enabled_at,
                    (SELECT MIN(k.expires_at) FROM api_key_expiry_notices n
                     JOIN api_keys k ON k.id = n.key_id
                     WHERE n.user_id = s.user_id AND n.dismissed_at IS NULL
                       AND k.revoked_at IS NULL AND k.expires_at > $2),
                    s.sso_org_id, s.methods, u.passkey_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND u.disabled_at IS NULL",
            &[id_hash.into(), now.into()],
        )
        .await?;
    row.map(|r| {
        Ok(SessionRow {
            user_id: r.i64(0)?,
            current_org_id: r.opt_i64(1)?,
            last_seen_at: r.i64(2)?,
            expires_at: r.i64(3)?,
            name: r.text(4)?,
            email: r.text(5)?,
            authenticated_at: r.i64(6)?,
            two_factor_at: r.opt_i64(7)?,
            key_expiry_at: r.opt_i64(9)?,
            totp_enabled_at: r.opt_i64(8)?,
            sso_org_id: r.opt_i64(10)?,
            methods: r.text(11)?,
            passkey_at: r.opt_i64(12)?,
        })
    })
    .transpose()
}

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: i64,
    pub current_org_id: Option<i64>,
    pub now: i64,
    pub expires_at: i64,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub sso_org_id: Option<i64>,
    pub methods: &'a str,
}

pub async fn insert_session(state: &AppState, new: NewSession<'_>) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, current_org_id, created_at, last_seen_at, expires_at,
                               authenticated_at, user_agent, ip, sso_org_id, methods)
         VALUES ($1, $2, $3, $4, $4, $5, $4, $6, $7, $8, $9)",
    )
    .bind(new.id_hash)
    .bind(new.user_id)
    .bind(new.current_org_id)
    .bind(new.now)
    .bind(new.expires_at)
    .bind(new.user_agent)
    .bind(new.ip)
    .bind(new.sso_org_id)
    .bind(new.methods)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// Marks the session as seen now, from `ip` (the address Profile → Sessions shows).
pub async fn touch_session(
    state: &AppState,
    id_hash: &str,
    now: i64,
    ip: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1, ip = COALESCE($3, ip) WHERE id_hash = $2")
        .bind(now)
        .bind(id_hash)
        .bind(ip)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

pub async fn set_current_org(state: &AppState, id_hash: &str, org_id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE sessions SET current_org_id = $1 WHERE id_hash = $2")
        .bind(org_id)
        .bind(id_hash)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// Ends every session of `user_id` but `keep` (the one in use), in the caller's transaction:
/// after a password change, turning 2FA off, or **Sign out everywhere else**. Returns how many.
pub async fn end_other_sessions(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
    keep: &str,
) -> Result<u64, AppError> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    )
}

pub async fn delete_session(state: &AppState, id_hash: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// A user found by email at sign-in.
pub struct Credentials {
    pub user_id: i64,
    pub password_hash: String,
    pub disabled: bool,
}

/// The user with this email, with what sign-in checks.
pub async fn find_user_by_email(
    state: &AppState,
    email: &Email,
) -> Result<Option<Credentials>, AppError> {
    let row: Option<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, password_hash, disabled_at FROM users WHERE email_normalized = $1",
    )
    .bind(email.normalized())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(
        row.map(|(user_id, password_hash, disabled_at)| Credentials {
            user_id,
            password_hash,
            disabled: disabled_at.is_some(),
        }),
    )
}

/// Creates the user, their organization and their Owner membership in one transaction.
/// The unique index on the normalized email decides duplicates: no check-then-insert race.
pub async fn create_user_with_org(
    state: &AppState,
    name: &PersonName,
    email: &Email,
    password_hash: &str,
    org_name: &OrgName,
    ip: &Option<String>,
) -> Result<(i64, i64), AppError> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let user_id = insert_user(
        &mut tx,
        name,
        email,
        password_hash,
        now,
        "An account with this email already exists. Sign in instead.",
    )
    .await?;
    let (org_id,): (i64,) =
        sqlx::query_as("INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(org_name.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at, member_name) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(Role::Owner.as_str())
    .bind(now)
    .bind(name.as_str())
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        crate::audit::Event::new("user.sign_up", format!("user:{user_id}"))
            .org(org_id)
            .actor(user_id)
            .ip(ip.clone()),
    )
    .await?;
    tx.commit().await?;
    Ok((user_id, org_id))
}

/// Inserts a user. The unique index on the normalized email decides duplicates (no
/// check-then-insert race); a duplicate answers `taken` next to the email field.
pub async fn insert_user(
    tx: &mut sqlx::AnyConnection,
    name: &PersonName,
    email: &Email,
    password_hash: &str,
    now: i64,
    taken: &str,
) -> Result<i64, AppError> {
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (email, email_normalized, name, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(name.as_str())
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    match inserted {
        Ok((id,)) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(AppError::conflict("email", taken))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn password_hash(state: &AppState, user_id: i64) -> Result<String, AppError> {
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(hash)
}
