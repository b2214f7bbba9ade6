//! Server functions of the profile panel **Manage your user API keys**. They act on the
//! signed-in user's own keys only.

use super::model::{ApiKeysView, CreatedKey};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::model::{Expiry, ScopeSet},
    super::server,
    crate::auth::server::signed_in,
    crate::state::from_context as state,
};

#[server(endpoint = "api_keys/view")]
pub async fn get_api_keys() -> Result<ApiKeysView, AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    server::view(&state, session.user_id).await
}

/// **New API key** → **Create**. `scopes` is the chosen scope names separated by spaces.
#[server(endpoint = "api_keys/create")]
pub async fn create_api_key(
    name: String,
    org_id: i64,
    scopes: String,
    expiry: String,
) -> Result<CreatedKey, AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    // A key acts in its organization: every policy of that organization (single sign-on, 2FA,
    // step-up) holds for making one, as for any other door into it.
    let actor = crate::auth::server::org_actor(&state, org_id).await?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    let scopes = ScopeSet::parse(scopes.split_whitespace())?;
    let expiry = Expiry::parse(&expiry)?;
    server::create(&state, &session, meta.ip, org_id, &name, scopes, expiry).await
}

#[server(endpoint = "api_keys/revoke")]
pub async fn revoke_api_key(key_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    server::revoke(&state, session.user_id, meta.ip, key_id).await
}

/// **Dismiss** on the expiry banner: it stays away until the next warning.
#[server(endpoint = "api_keys/dismiss_expiry_notices")]
pub async fn dismiss_key_expiry_notices() -> Result<(), AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    server::expiry::dismiss(&state, session.user_id).await
}
