//! Organization settings: the name (Owner) and deleting the organization.

use super::model::OrgSettings;
use crate::auth::server::Actor;
use crate::domain::OrgName;
use crate::error::AppError;
use crate::policy::{allows, authorize, Action};
use crate::state::AppState;

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
    let mut tx = state.db.begin().await?;
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
    let mut tx = state.db.begin().await?;
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
