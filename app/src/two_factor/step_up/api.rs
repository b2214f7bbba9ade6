//! Server functions of the step-up: they act on the signed-in session only.

use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    crate::auth::server::{self as auth, proof::Method, signed_in},
    crate::state::from_context as state,
    crate::two_factor::passkeys::server as passkeys,
};

/// Records the step-up on the session and in the person's organizations' audit logs.
#[cfg(feature = "ssr")]
async fn stepped_up(
    state: &crate::state::AppState,
    session: &auth::Session,
    ip: Option<String>,
    method: Method,
) -> Result<(), AppError> {
    session.add_method(state, method).await?;
    let mut tx = state.db.begin().await?;
    crate::audit::record_for_user(
        &mut tx,
        state,
        session.user_id,
        crate::audit::Event::new(
            "user.session_stepped_up",
            format!("user:{}", session.user_id),
        )
        .actor(session.user_id)
        .ip(ip)
        .details(serde_json::json!({ "method": method.token() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// With a code from the authenticator app, or a recovery code. Not for an organization that
/// accepts security keys and passkeys only (`security_key`): that takes a touch.
#[server(endpoint = "step_up/code")]
pub async fn step_up_with_code(code: String, security_key: Option<String>) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    if security_key.as_deref() == Some("true") {
        return Err(AppError::invalid(
            "code",
            "This organization accepts security keys and passkeys only: use yours.",
        ));
    }
    let method = crate::two_factor::server::verify(&state, session.user_id, &code, true).await?;
    stepped_up(&state, &session, meta.ip, method).await
}

/// With a security key or passkey, first step: the options for `navigator.credentials.get`.
#[server(endpoint = "step_up/passkey_start")]
pub async fn start_step_up_passkey() -> Result<String, AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    passkeys::options_json(&passkeys::start_verification(&state, session.user_id).await?)
}

/// Second step: the browser's signed answer.
#[server(endpoint = "step_up/passkey")]
pub async fn step_up_with_passkey(assertion: String) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    passkeys::check_verification(&state, session.user_id, &assertion, meta.ip.clone()).await?;
    stepped_up(&state, &session, meta.ip, Method::SecurityKey).await
}
