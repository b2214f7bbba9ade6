//! Server functions of the Provisioning panel (Owner; changes ask for Confirm access).

use super::model::{NewScimToken, ProvisioningView};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server::tokens,
    crate::auth::server::{org_actor, require_recent_auth},
    crate::domain::Role,
    crate::policy::{authorize, Action},
    crate::state::from_context as state,
};

#[server(endpoint = "org/provisioning")]
pub async fn provisioning(org_id: i64) -> Result<ProvisioningView, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    tokens::view(&state, &actor).await
}

/// **Create token** (the first one turns provisioning on): shown once.
#[server(endpoint = "org/provisioning/token")]
pub async fn create_scim_token(org_id: i64, name: String) -> Result<NewScimToken, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    authorize(actor.role, Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    tokens::create(&state, &actor, &name).await
}

/// **Revoke**: the provider's next request with it is refused (revoking the last one turns
/// provisioning off; what it provisioned stays).
#[server(endpoint = "org/provisioning/revoke")]
pub async fn revoke_scim_token(org_id: i64, token_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    authorize(actor.role, Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    tokens::revoke(&state, &actor, token_id).await
}

#[server(endpoint = "org/provisioning/role")]
pub async fn set_scim_default_role(org_id: i64, role: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    authorize(actor.role, Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    let role = Role::parse(&role)?;
    tokens::set_default_role(&state, &actor, role).await
}
