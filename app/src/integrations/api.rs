//! Server functions of a group's integrations.

use super::model::{DeliveryRow, IntegrationsView};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::model::Kind,
    super::server::{self, delivery, IntegrationInput},
    crate::auth::server::org_actor,
    crate::state::from_context as state,
};

#[server(endpoint = "integrations/get")]
pub async fn get_integrations(org_id: i64, group_id: i64) -> Result<IntegrationsView, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::view(&state, &actor, group_id).await
}

#[cfg(feature = "ssr")]
fn kind(raw: &str) -> Result<Kind, AppError> {
    Kind::parse(raw).ok_or_else(|| AppError::invalid("kind", "Choose webhook, slack or email."))
}

/// Saves one integration: `enabled` is its switch ("on" when ticked); `secret` left empty
/// keeps the stored signing secret.
#[server(endpoint = "integrations/save")]
pub async fn save_integration(
    org_id: i64,
    group_id: i64,
    kind: String,
    enabled: Option<String>,
    url: Option<String>,
    secret: Option<String>,
    recipients: Option<String>,
) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let kind = self::kind(&kind)?;
    let input = IntegrationInput::parse(
        kind,
        enabled.is_some(),
        url.as_deref(),
        secret.as_deref(),
        recipients.as_deref(),
    )?;
    server::save_for_group(&state, &actor, group_id, &input).await
}

/// **Send test event**: delivers now and answers the result.
#[server(endpoint = "integrations/test")]
pub async fn send_test_event(
    org_id: i64,
    group_id: i64,
    kind: String,
) -> Result<DeliveryRow, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let kind = self::kind(&kind)?;
    let group = crate::groups::access::authorize_edit(&state, &actor, group_id).await?;
    delivery::send_test(&state, group_id, &group, kind).await
}
