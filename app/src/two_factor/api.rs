//! Server functions of 2FA. The profile ones act on the signed-in user only; the policy ones
//! are org-scoped and authorized through `org_actor` and the policy module.

#[cfg(feature = "ssr")]
use super::model::PolicyLevel;
use super::model::{Enrollment, PolicyView, RecoveryCodes, TwoFactorStatus};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server::{self as two_factor, policy},
    crate::auth::server::{self as auth, org_actor, signed_in},
    crate::state::from_context as state,
};

#[server(endpoint = "two_factor/status")]
pub async fn get_two_factor_status() -> Result<TwoFactorStatus, AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    two_factor::status(&state, session.user_id, meta.host.as_deref()).await
}

/// **Enable two-factor authentication**: a new secret to scan or type.
#[server(endpoint = "two_factor/start")]
pub async fn start_two_factor() -> Result<Enrollment, AppError> {
    let state = state()?;
    let (session, _) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    two_factor::start(&state, session.user_id, &session.email).await
}

/// Turns 2FA on with a current code; answers the recovery codes, shown once.
#[server(endpoint = "two_factor/confirm")]
pub async fn confirm_two_factor(code: String) -> Result<RecoveryCodes, AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    let codes = two_factor::confirm(&state, session.user_id, &code, meta.ip).await?;
    // The code just typed proves this session too.
    session.add_method(&state, auth::proof::Method::App).await?;
    Ok(codes)
}

#[server(endpoint = "two_factor/recovery_codes")]
pub async fn regenerate_recovery_codes(code: String) -> Result<RecoveryCodes, AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    two_factor::regenerate(&state, session.user_id, &code, meta.ip).await
}

/// Turns 2FA off: needs the password and a current code.
#[server(endpoint = "two_factor/disable")]
pub async fn disable_two_factor(password: String, code: String) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = signed_in(&state).await?;
    auth::require_recent_session(&state, &session)?;
    auth::check_password(&state, session.user_id, &password).await?;
    two_factor::disable(&state, &session, &code, meta.ip).await
}

/// The second step of sign-in: a code from the app, or a recovery code.
#[server(endpoint = "sign_in/second_factor")]
pub async fn sign_in_second_factor(code: String) -> Result<(), AppError> {
    let state = state()?;
    let meta = auth::request_meta(&state);
    let expired = || AppError::invalid("code", "This sign-in has expired. Sign in again.");
    let token = meta.challenge_token.clone().ok_or_else(expired)?;
    let (user_id, next) = two_factor::find_challenge(&state, &token)
        .await?
        .ok_or_else(expired)?;
    let factor = two_factor::verify(&state, user_id, &code, true).await?;
    let (next, with_password) =
        two_factor::complete_sign_in(&state, &meta, user_id, &token, next, factor).await?;
    let next = if with_password {
        crate::sso::server::after_password_sign_in(&state, &meta, user_id)
            .await?
            .unwrap_or(next)
    } else {
        next
    };
    leptos_axum::redirect(&next);
    Ok(())
}

/// The Owner's panel for "Require two-factor authentication".
#[server(endpoint = "org/two_factor")]
pub async fn two_factor_policy(org_id: i64) -> Result<PolicyView, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    policy::view(&state, &actor).await
}

/// **Notify** the members without 2FA; answers how many.
#[server(endpoint = "org/two_factor/notify")]
pub async fn notify_two_factor(org_id: i64) -> Result<i64, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    policy::notify(&state, &actor).await
}

/// Applies or lifts the policy. `require` is the checkbox ("on" when ticked); `grace_days`
/// 0–30 and `methods` (`any`, `security_keys`), for applying.
#[server(endpoint = "org/two_factor/set")]
pub async fn set_two_factor_policy(
    org_id: i64,
    require: Option<String>,
    grace_days: Option<String>,
    methods: Option<String>,
) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    // Changing or lifting the organization's security asks for Confirm access.
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    auth::require_recent_auth(&state, actor.authenticated_at)?;
    let grace_days = match grace_days.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(raw) => raw.parse::<i64>().map_err(|_| {
            AppError::invalid(
                "grace_days",
                "The grace period is a number of days, 0 to 30.",
            )
        })?,
    };
    // `methods`: "any" (the default) or "security_keys".
    let level = match methods.as_deref().map(str::trim) {
        None | Some("") => PolicyLevel::Any,
        Some(raw) => PolicyLevel::parse(raw).ok_or_else(|| {
            AppError::invalid(
                "methods",
                "Choose any method, or security keys and passkeys only.",
            )
        })?,
    };
    policy::set(
        &state,
        &actor,
        require.is_some().then_some(level),
        grace_days,
    )
    .await
}
