//! Server functions of the streaming panel (Owner; adding and removing ask for Confirm
//! access).

use super::model::StreamsView;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::{model::StreamKind, server},
    crate::auth::server::{org_actor, require_recent_auth},
    crate::policy::{authorize, Action},
    crate::state::from_context as state,
};

#[server(endpoint = "org/audit_streams")]
pub async fn audit_streams(org_id: i64) -> Result<StreamsView, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::view(&state, &actor).await
}

/// **Add stream**: `kind` `json_lines` or `splunk_hec`, the receiver's URL, and the signing
/// secret or HEC token.
#[server(endpoint = "org/audit_streams/add")]
pub async fn add_audit_stream(
    org_id: i64,
    kind: String,
    url: String,
    secret: String,
) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    authorize(actor.role, Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    let kind = StreamKind::parse(&kind)?;
    server::add(&state, &actor, kind, &url, &secret).await
}

#[server(endpoint = "org/audit_streams/remove")]
pub async fn remove_audit_stream(org_id: i64, stream_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    authorize(actor.role, Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    server::remove(&state, &actor, stream_id).await
}
