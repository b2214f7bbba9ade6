//! Who may reach a group: whether it is of the actor's organization and whether the actor
//! belongs to it. Below both the groups' own rules and their integrations, which ask it.

use crate::auth::server::Actor;
use crate::error::AppError;
use crate::policy::{authorize, Action};
use crate::state::AppState;

/// The group's name, when it belongs to the actor's organization (else 404).
pub async fn group_name(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
) -> Result<String, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT name FROM groups WHERE id = $1 AND org_id = $2")
            .bind(group_id)
            .bind(actor.org_id)
            .fetch_optional(&state.db.pool)
            .await?;
    row.map(|r| r.0).ok_or(AppError::NotFound)
}

pub async fn is_member_of(state: &AppState, group_id: i64, user_id: i64) -> Result<bool, AppError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .fetch_one(&state.db.pool)
            .await?;
    Ok(n > 0)
}

/// Authorizes editing settings or membership of a group of the actor's organization.
pub async fn authorize_edit(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
) -> Result<String, AppError> {
    authorize(actor.role, Action::ViewMembers)?;
    let name = group_name(state, actor, group_id).await?;
    let member_of_group = is_member_of(state, group_id, actor.user_id).await?;
    authorize(actor.role, Action::EditGroup { member_of_group })?;
    Ok(name)
}

/// A group made by provisioning follows the identity provider: its name and members are
/// changed there, not here (its integrations and scans limit stay editable). `field` is the
/// form field the refusal belongs next to.
pub async fn refuse_if_provisioned(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    field: &str,
) -> Result<(), AppError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT scim_managed FROM groups WHERE id = $1 AND org_id = $2")
            .bind(group_id)
            .bind(actor.org_id)
            .fetch_optional(&state.db.pool)
            .await?;
    match row {
        None => Err(AppError::NotFound),
        Some((1,)) => Err(AppError::conflict(
            field,
            "This group is managed by provisioning: change its name and members at your identity provider.",
        )),
        Some(_) => Ok(()),
    }
}
