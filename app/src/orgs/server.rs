use super::model::OrgSettings;
use crate::auth::model::OrgSummary;
use crate::auth::server::Actor;
use crate::domain::{OrgName, Role};
use crate::error::AppError;
use crate::policy::{allows, authorize, Action};
use crate::state::AppState;
use crate::two_factor::model::Compliance;
use crate::two_factor::server::policy::{trial_denies, StandingRow, STANDING_COLUMNS};

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

pub async fn settings(state: &AppState, actor: &Actor) -> Result<OrgSettings, AppError> {
    let (name,): (String,) = sqlx::query_as("SELECT name FROM organizations WHERE id = $1")
        .bind(actor.org_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(OrgSettings {
        id: actor.org_id,
        name,
        can_manage: allows(actor.role, Action::ManageOrganization),
        can_see_billing: allows(actor.role, Action::ManageBilling),
    })
}

pub async fn rename(state: &AppState, actor: &Actor, name: OrgName) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("UPDATE organizations SET name = $1 WHERE id = $2")
        .bind(name.as_str())
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("org.renamed", format!("org:{}", actor.org_id))
            .details(serde_json::json!({"name": name.as_str()})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the organization with everything in it. The Owner types its name to confirm.
pub async fn delete(state: &AppState, actor: &Actor, confirm_name: &str) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let (name,): (String,) = sqlx::query_as("SELECT name FROM organizations WHERE id = $1")
        .bind(actor.org_id)
        .fetch_one(&state.db.pool)
        .await?;
    if confirm_name.trim() != name {
        return Err(AppError::invalid(
            "confirm",
            "Type the organization's name exactly to confirm.",
        ));
    }
    // The audit trail of a deleted organization is kept without its org id (the foreign key
    // would cascade it away), so that who deleted what stays on record. The event and the
    // deletion commit together.
    let mut tx = state.db.pool.begin().await?;
    crate::audit::record(
        &mut tx,
        state,
        crate::audit::Event::new("org.deleted", format!("org:{}", actor.org_id))
            .actor(actor.user_id)
            .ip(actor.ip.clone())
            .details(serde_json::json!({"name": name})),
    )
    .await?;
    sqlx::query("DELETE FROM organizations WHERE id = $1")
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub fn iso_date(unix: i64) -> String {
    format_time(unix, &time::format_description::well_known::Iso8601::DATE)
}

/// `YYYY-MM-DD HH:MM UTC`, for times shown in tables.
pub fn date_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    format_time(unix, &format)
}

/// How long until an expiry, in words: "in 3 days", "in 1 day", "in 5 hours", "in less than
/// an hour". `seconds` is the time left; none left is "now".
pub fn expires_in_words(seconds: i64) -> String {
    use crate::words::counted;
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    match seconds {
        s if s <= 0 => "now".to_string(),
        s if s < HOUR => "in less than an hour".to_string(),
        s if s < DAY => format!("in {}", counted(s / HOUR, "hour", "hours")),
        s => format!("in {}", counted(s / DAY, "day", "days")),
    }
}

fn format_time(unix: i64, format: &(impl time::formatting::Formattable + ?Sized)) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod expiry_words_tests {
    use super::expires_in_words;

    #[test]
    fn expiries_read_in_words() {
        assert_eq!(expires_in_words(-5), "now");
        assert_eq!(expires_in_words(59 * 60), "in less than an hour");
        assert_eq!(expires_in_words(3600), "in 1 hour");
        assert_eq!(expires_in_words(23 * 3600 + 3599), "in 23 hours");
        assert_eq!(expires_in_words(24 * 3600), "in 1 day");
        assert_eq!(expires_in_words(3 * 24 * 3600 + 7), "in 3 days");
    }
}
