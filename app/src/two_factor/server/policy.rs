//! The organization policy "Require two-factor authentication": who complies, the Owner's
//! panel, Notify, and applying or lifting the policy.

use crate::auth::server::Actor;
use crate::dates::date_time;
use crate::error::AppError;
use crate::orgs::store::lock_org;
use crate::policy::{authorize, Action};
use crate::state::AppState;
use crate::two_factor::model::{
    MemberWithout, PolicyLevel, PolicyView, MAX_GRACE_DAYS, WITHOUT_SHOWN,
};

const DAY_SECS: i64 = 24 * 3600;

/// Names of the user's organizations that require 2FA.
pub async fn orgs_requiring(state: &AppState, user_id: i64) -> Result<Vec<String>, AppError> {
    orgs_requiring_at_least(state, user_id, PolicyLevel::Any).await
}

/// Names of the user's organizations that require at least `level`.
pub async fn orgs_requiring_at_least(
    state: &AppState,
    user_id: i64,
    level: PolicyLevel,
) -> Result<Vec<String>, AppError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT o.name FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND o.require_two_factor >= $2 ORDER BY o.name",
    )
    .bind(user_id)
    .bind(level.stored())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// The organization's policy level (`None`: 2FA not required), and the end of its grace
/// period (if one was set).
pub async fn org_policy(
    state: &AppState,
    org_id: i64,
) -> Result<(Option<PolicyLevel>, Option<i64>), AppError> {
    let (required, deadline): (i64, Option<i64>) = sqlx::query_as(
        "SELECT require_two_factor, two_factor_deadline FROM organizations WHERE id = $1",
    )
    .bind(org_id)
    .fetch_one(&state.db.pool)
    .await?;
    Ok((PolicyLevel::from_stored(required), deadline))
}

pub async fn view(state: &AppState, actor: &Actor) -> Result<PolicyView, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let (level, deadline) = org_policy(state, actor.org_id).await?;
    // Members count as without it by the level in force (any method when not required).
    let column = level.unwrap_or(PolicyLevel::Any).complying_column();
    let (without_count, notified_count): (i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*), COUNT(n.user_id)
         FROM memberships m
         LEFT JOIN two_factor_notices n ON n.user_id = m.user_id AND n.org_id = m.org_id
         WHERE m.org_id = $1 AND m.{column} IS NULL"
    ))
    .bind(actor.org_id)
    .fetch_one(&state.db.pool)
    .await?;
    let without = sqlx::query_as::<_, (String, String)>(&format!(
        "SELECT u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 AND m.{column} IS NULL
             ORDER BY m.member_name, m.user_id LIMIT $2"
    ))
    .bind(actor.org_id)
    .bind(WITHOUT_SHOWN)
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .map(|(name, email)| MemberWithout { name, email })
    .collect();
    Ok(PolicyView {
        required: level.is_some(),
        level: level.unwrap_or(PolicyLevel::Any),
        deadline: deadline.filter(|d| *d > state.now()).map(date_time),
        can_manage: true,
        viewer_has_two_factor: super::factors::is_enabled(state, actor.user_id).await?,
        viewer_has_passkey: has_passkey(state, actor.user_id).await?,
        without_count,
        without,
        notified_count,
    })
}

/// Tells every member without 2FA: an in-app notice always, an email when SMTP is set up.
/// Returns how many members were notified.
pub async fn notify(state: &AppState, actor: &Actor) -> Result<i64, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let now = state.now();
    let (level, _) = org_policy(state, actor.org_id).await?;
    let column = level.unwrap_or(PolicyLevel::Any).complying_column();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(&format!(
        "INSERT INTO two_factor_notices (user_id, org_id, created_at)
         SELECT m.user_id, m.org_id, $2 FROM memberships m
         WHERE m.org_id = $1 AND m.{column} IS NULL
         ON CONFLICT (user_id, org_id) DO UPDATE SET created_at = excluded.created_at"
    ))
    .bind(actor.org_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let count = done.rows_affected() as i64;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("org.two_factor_notified", format!("org:{}", actor.org_id))
            .details(serde_json::json!({ "members": count })),
    )
    .await?;
    tx.commit().await?;
    if state.mailer.is_some() {
        // Email goes out in the background, a page of members at a time: an organization of
        // 100,000 should not hold the request open.
        let state = state.clone();
        let org_id = actor.org_id;
        let level = level.unwrap_or(PolicyLevel::Any);
        tokio::spawn(async move {
            if let Err(err) = email_members_without(&state, org_id, level).await {
                tracing::error!(?err, org_id, "emailing the 2FA notice stopped");
            }
        });
    }
    Ok(count)
}

async fn email_members_without(
    state: &AppState,
    org_id: i64,
    level: PolicyLevel,
) -> Result<(), AppError> {
    let column = level.complying_column();
    let (asks, subject) = match level {
        PolicyLevel::Any => (
            "to turn on two-factor authentication",
            "turn on two-factor authentication",
        ),
        PolicyLevel::SecurityKeys => (
            "to add a security key or passkey",
            "add a security key or passkey",
        ),
    };
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let (org_name,): (String,) = sqlx::query_as("SELECT name FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(&state.db.pool)
        .await?;
    let link = format!("{}/profile#two-factor", state.base_url());
    let mut after = (String::new(), 0i64);
    loop {
        let page: Vec<(i64, String, String, String)> = sqlx::query_as(&format!(
            "SELECT m.user_id, m.member_name, u.name, u.email
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 AND m.{column} IS NULL
               AND (m.member_name, m.user_id) > ($2, $3)
             ORDER BY m.member_name, m.user_id LIMIT 200"
        ))
        .bind(org_id)
        .bind(&after.0)
        .bind(after.1)
        .fetch_all(&state.db.pool)
        .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = (last.1.clone(), last.0);
        for (_, _, name, email) in &page {
            let body = format!(
                "Hello {name},\n\n{org_name} asks every member {asks}.\n\
                 Do it in your Gatehouse profile:\n\n{link}\n"
            );
            if let Err(err) = mailer
                .send(name, email, &format!("{org_name}: {subject}"), body)
                .await
            {
                tracing::warn!(?err, "a 2FA notice email was not sent");
            }
        }
    }
}

/// Applies `level` (with a grace period of 0–30 days) or lifts the policy (`None`). Only an
/// Owner with 2FA on, and for security keys only, an Owner with one.
pub async fn set(
    state: &AppState,
    actor: &Actor,
    level: Option<PolicyLevel>,
    grace_days: i64,
) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    if !super::factors::is_enabled(state, actor.user_id).await? {
        return Err(AppError::TwoFactorRequired {
            security_keys_only: false,
        });
    }
    if level == Some(PolicyLevel::SecurityKeys) && !has_passkey(state, actor.user_id).await? {
        return Err(AppError::invalid(
            "methods",
            "Add a security key or passkey to your own account first (Profile → Two-factor authentication).",
        ));
    }
    if !(0..=MAX_GRACE_DAYS).contains(&grace_days) {
        return Err(AppError::invalid(
            "grace_days",
            format!("The grace period is 0 to {MAX_GRACE_DAYS} days."),
        ));
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let column = level.unwrap_or(PolicyLevel::Any).complying_column();
    let (without,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM memberships m WHERE m.org_id = $1 AND m.{column} IS NULL"
    ))
    .bind(actor.org_id)
    .fetch_one(&mut *tx)
    .await?;
    let event = if let Some(level) = level {
        let deadline = now + grace_days * DAY_SECS;
        sqlx::query(
            // Enforcing ends a report-only trial of it.
            "UPDATE organizations SET require_two_factor = $1, two_factor_since = $2,
                    two_factor_deadline = $3,
                    two_factor_trial_until = CASE WHEN two_factor_trial_until > $2
                        THEN $2 ELSE two_factor_trial_until END
             WHERE id = $4",
        )
        .bind(level.stored())
        .bind(now)
        .bind(deadline)
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
        actor
            .event("org.two_factor_required", format!("org:{}", actor.org_id))
            .details(serde_json::json!({
                "methods": level.as_str(),
                "grace_days": grace_days,
                "deadline": date_time(deadline),
                "members_without_two_factor": without,
            }))
    } else {
        sqlx::query(
            "UPDATE organizations SET require_two_factor = 0, two_factor_since = NULL,
                    two_factor_deadline = NULL WHERE id = $1",
        )
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
        actor.event(
            "org.two_factor_not_required",
            format!("org:{}", actor.org_id),
        )
    };
    crate::audit::record(&mut tx, state, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user has a security key or passkey.
pub async fn has_passkey(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    let (at,): (Option<i64>,) = sqlx::query_as("SELECT passkey_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(at.is_some())
}
