use super::model::MembersPage;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server, crate::auth::server::org_actor, crate::domain::Role,
    crate::state::from_context as state,
};

/// A page of the organization's members; `q` searches name and email, `after` is the
/// previous page's `next_cursor`.
#[server(endpoint = "members/list")]
pub async fn list_members(
    org_id: i64,
    q: Option<String>,
    after: Option<String>,
) -> Result<MembersPage, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let after = after
        .filter(|a| !a.is_empty())
        .map(|c| server::decode_cursor(&c))
        .transpose()?;
    server::page(&state, &actor, q.as_deref(), after, server::PAGE_SIZE).await
}

#[server(endpoint = "members/role")]
pub async fn change_role(org_id: i64, user_id: i64, role: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let role = Role::parse(&role)?;
    server::change_role(&state, &actor, user_id, role).await
}

#[server(endpoint = "members/remove")]
pub async fn remove_member(org_id: i64, user_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::remove(&state, &actor, user_id).await
}

/// An Owner resets a member's two-factor authentication: the member signs in with their
/// password and enrolls again.
#[server(endpoint = "members/reset_two_factor")]
pub async fn reset_member_two_factor(org_id: i64, user_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::reset_two_factor(&state, &actor, user_id).await
}

/// Leaves the organization (refused for its last Owner).
#[server(endpoint = "members/leave")]
pub async fn leave_org(org_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::remove(&state, &actor, actor.user_id).await?;
    leptos_axum::redirect("/");
    Ok(())
}
