//! Which organizations a user belongs to and in which role, and the per-organization lock:
//! what the session, the key check and every capability read. Below them all (it knows no
//! actor).

use crate::auth::model::OrgSummary;
use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;
use crate::two_factor::model::Compliance;
use crate::two_factor::server::standing::{trial_denies, StandingRow, STANDING_COLUMNS};

pub fn role_of(raw: &str) -> Result<Role, AppError> {
    Role::parse(raw).map_err(|_| {
        tracing::error!(role = raw, "unknown role stored in memberships");
        AppError::Internal
    })
}

/// Serializes changes to one organization's memberships and seats: an UPDATE of its row
/// takes the row lock on PostgreSQL and the write lock on SQLite, held until commit. Read
/// the invariants' inputs (roles, counts) after this, inside the same transaction.
pub async fn lock_org(tx: &mut sqlx::AnyConnection, org_id: i64) -> Result<(), AppError> {
    let done = sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

pub async fn orgs_of_user(state: &AppState, user_id: i64) -> Result<Vec<OrgSummary>, AppError> {
    let rows = state
        .db
        .read(
            &format!(
                "SELECT o.id, o.name, m.role,
                        CASE WHEN n.user_id IS NULL THEN 0 ELSE 1 END AS notice, {STANDING_COLUMNS},
                        COALESCE(c.required, 0), o.two_factor_trial, o.two_factor_trial_until,
                        o.sso_trial_until
                 FROM memberships m JOIN organizations o ON o.id = m.org_id
                 JOIN users u ON u.id = m.user_id
                 LEFT JOIN two_factor_notices n ON n.user_id = m.user_id AND n.org_id = m.org_id
                 LEFT JOIN sso_connections c ON c.org_id = m.org_id
                 WHERE m.user_id = $1 ORDER BY o.name, o.id"
            ),
            &[user_id.into()],
        )
        .await?;
    let now = state.now();
    rows.iter()
        .map(|row| {
            let standing = StandingRow::from_read(row, 4)?;
            let role = role_of(&row.text(2)?)?;
            let two_factor = standing.compliance(now);
            // Report only: what a trial would refuse that the policies in force let through.
            // The session decides single sign-on's (Session::orgs).
            let sso_trial = row.opt_i64(13)?.is_some_and(|until| until > now);
            let would_deny = match trial_denies(row.i64(11)?, row.opt_i64(12)?, &standing, now) {
                Some(policy) if two_factor != Compliance::Blocked => Some(policy),
                _ if sso_trial && role != Role::Owner => Some("sso"),
                _ => None,
            };
            Ok(OrgSummary {
                would_deny,
                // The session decides whether it came through the provider (Session::orgs).
                sso_required: row.i64(10)? == 1 && role != Role::Owner,
                id: row.i64(0)?,
                name: row.text(1)?,
                role,
                two_factor_notice: row.i64(3)? == 1,
                two_factor,
                security_keys_only: standing.security_keys_only(),
                // The session decides what it still has to prove (Session::orgs).
                step_up: None,
            })
        })
        .collect()
}

/// The user's role in the organization, or `None` when they are not a member. Takes the
/// pool, or a transaction that holds the organization's lock.
pub async fn membership<'e, E>(db: E, org_id: i64, user_id: i64) -> Result<Option<Role>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    row.map(|(role,)| role_of(&role)).transpose()
}
