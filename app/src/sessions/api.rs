//! Server functions of the profile panel **Sessions**.

use super::model::SessionEntry;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::server, crate::auth::server::signed_in, crate::state::from_context as state};

#[server(endpoint = "sessions/list")]
pub async fn list_sessions() -> Result<Vec<SessionEntry>, AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    server::list(&state, &session).await
}

/// **Sign out** on another session's row.
#[server(endpoint = "sessions/sign_out")]
pub async fn sign_out_session(id: String) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    server::sign_out(&state, &session, meta.ip, &id).await
}

/// **Sign out everywhere else**; returns how many sessions ended.
#[server(endpoint = "sessions/sign_out_others")]
pub async fn sign_out_other_sessions() -> Result<u64, AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    server::sign_out_others(&state, &session, meta.ip).await
}
