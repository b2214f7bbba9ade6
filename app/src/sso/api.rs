//! Server functions of single sign-on: the Owner's panel (org-scoped, authorized through
//! `org_actor` and the policy module) and what the sign-in page needs to know.

use super::model::SsoSettings;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::server, crate::auth::server::org_actor, crate::state::from_context as state};

#[server(endpoint = "org/sso")]
pub async fn get_sso_settings(org_id: i64) -> Result<SsoSettings, AppError> {
    let state = state()?;
    // Read before any await: the request's context is not kept across them.
    let host = crate::auth::server::request_meta(&state).host;
    let actor = org_actor(&state, org_id).await?;
    server::settings(&state, &actor, host.as_deref()).await
}

/// Connects the identity provider, or changes the connection. An empty `client_secret`
/// keeps the stored one.
#[server(endpoint = "org/sso/save")]
pub async fn save_sso_settings(
    org_id: i64,
    issuer: String,
    client_id: String,
    client_secret: String,
    allowed_domains: String,
    default_role: String,
    provider_mfa: Option<String>,
) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    let form = server::ConnectionForm::parse(
        &state,
        &issuer,
        &client_id,
        &client_secret,
        &allowed_domains,
        &default_role,
        provider_mfa.is_some(),
    )
    .await?;
    server::save(&state, &actor, form).await
}

#[server(endpoint = "org/sso/remove")]
pub async fn remove_sso(org_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    server::remove(&state, &actor).await
}

/// **Require single sign-on** (`required` "true") or stop requiring it.
#[server(endpoint = "org/sso/required")]
pub async fn set_sso_required(org_id: i64, required: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    server::set_required(&state, &actor, required == "true").await
}

/// Whether the sign-in page offers single sign-on (some organization here uses it).
#[server(endpoint = "sso/offered")]
pub async fn sso_offered() -> Result<bool, AppError> {
    let state = state()?;
    server::offered(&state).await
}
