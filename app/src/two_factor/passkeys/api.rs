//! Server functions of security keys and passkeys. The profile ones act on the signed-in user
//! only; the sign-in ones on the sign-in waiting for its second step (its cookie). The
//! browser's answers travel as the JSON webauthn-rs reads.

use super::model::SignInMethods;
use crate::error::AppError;
use crate::two_factor::model::RecoveryCodes;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server as passkeys,
    crate::auth::server::{self as auth, signed_in},
    crate::domain::PasskeyName,
    crate::state::from_context as state,
};

/// **Add a security key or passkey**, first step: the name is checked before the browser asks
/// for a touch, and the answer is the options for `navigator.credentials.create`, as the
/// WebAuthn JSON the browser parses (`{"publicKey": {...}}`).
#[server(endpoint = "passkeys/start")]
pub async fn start_passkey_registration(name: String) -> Result<String, AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    PasskeyName::parse(&name)?;
    // Where an organization accepts security keys only, a phished password and app code must
    // not be enough to add the phisher's own key: a person who has a key touches it first.
    if session.has_passkey && !session.proof.has_security_key() {
        let requiring = crate::two_factor::server::policy::orgs_requiring_at_least(
            &state,
            session.user_id,
            crate::two_factor::model::PolicyLevel::SecurityKeys,
        )
        .await?;
        if !requiring.is_empty() {
            return Err(AppError::StepUpRequired {
                org_id: None,
                security_key: true,
            });
        }
    }
    let options =
        passkeys::start_registration(&state, session.user_id, &session.email, &session.name)
            .await?;
    passkeys::options_json(&options)
}

/// Second step: `credential` is the browser's answer. Answers the recovery codes when this is
/// the person's first second factor.
#[server(endpoint = "passkeys/finish")]
pub async fn finish_passkey_registration(
    name: String,
    credential: String,
) -> Result<Option<RecoveryCodes>, AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    let name = PasskeyName::parse(&name)?;
    let codes =
        passkeys::finish_registration(&state, session.user_id, &name, &credential, meta.ip).await?;
    if !session.has_passkey {
        // The person's first key, just touched, proves this session too. (Adding another
        // key needed a touch of an existing one where keys are required: see the start.)
        session
            .add_method(&state, auth::proof::Method::SecurityKey)
            .await?;
    }
    Ok(codes)
}

#[server(endpoint = "passkeys/rename")]
pub async fn rename_passkey(id: i64, name: String) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    let name = PasskeyName::parse(&name)?;
    passkeys::rename(&state, session.user_id, id, &name, meta.ip).await
}

/// A touch of one of your keys, to confirm removing the last: the options for
/// `navigator.credentials.get`.
#[server(endpoint = "passkeys/verify_start")]
pub async fn start_passkey_verification() -> Result<String, AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    passkeys::options_json(&passkeys::start_verification(&state, session.user_id).await?)
}

/// **Remove**: needs the password, like turning 2FA off; the last second factor also a touch
/// of the key (`assertion`, the browser's answer to `passkeys/verify_start`).
#[server(endpoint = "passkeys/remove")]
pub async fn remove_passkey(
    id: i64,
    password: String,
    assertion: Option<String>,
) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    auth::check_password(&state, session.user_id, &password).await?;
    passkeys::remove(&state, &session, id, assertion.as_deref(), meta.ip).await
}

#[cfg(feature = "ssr")]
async fn waiting_sign_in(
    state: &crate::state::AppState,
) -> Result<(i64, Option<String>, String), AppError> {
    let meta = auth::request_meta(state);
    let expired = || AppError::invalid("passkey", "This sign-in has expired. Sign in again.");
    let token = meta.challenge_token.clone().ok_or_else(expired)?;
    let (user_id, next) = crate::two_factor::server::find_challenge(state, &token)
        .await?
        .ok_or_else(expired)?;
    Ok((user_id, next, token))
}

#[server(endpoint = "sign_in/methods")]
pub async fn second_step_methods() -> Result<SignInMethods, AppError> {
    let state = state()?;
    // Read before any await: the request's context is not kept across them.
    let host = auth::request_meta(&state).host;
    let (user_id, _, _) = waiting_sign_in(&state).await?;
    Ok(SignInMethods {
        passkey: passkeys::count(&state.db.pool, user_id).await? > 0,
        app: crate::two_factor::server::has_app(&state, user_id).await?,
        passkey_unavailable: passkeys::unavailable_at(&state, host.as_deref()),
    })
}

/// **Use your security key or passkey**, first step: the options for
/// `navigator.credentials.get`.
#[server(endpoint = "sign_in/passkey_start")]
pub async fn start_passkey_sign_in() -> Result<String, AppError> {
    let state = state()?;
    let (user_id, _, token) = waiting_sign_in(&state).await?;
    passkeys::options_json(&passkeys::start_sign_in(&state, user_id, &token).await?)
}

/// Second step: signs in with the browser's signed answer. Answers where to go next.
#[server(endpoint = "sign_in/passkey")]
pub async fn sign_in_with_passkey(credential: String) -> Result<String, AppError> {
    let state = state()?;
    let meta = auth::request_meta(&state);
    let (user_id, next, token) = waiting_sign_in(&state).await?;
    passkeys::finish_sign_in(&state, user_id, &token, &credential, meta.ip.clone()).await?;
    let (next, with_password) = crate::two_factor::server::complete_sign_in(
        &state,
        &meta,
        user_id,
        &token,
        next,
        crate::auth::server::proof::Method::SecurityKey,
    )
    .await?;
    if with_password {
        if let Some(link) =
            crate::sso::server::after_password_sign_in(&state, &meta, user_id).await?
        {
            return Ok(link);
        }
    }
    Ok(next)
}
