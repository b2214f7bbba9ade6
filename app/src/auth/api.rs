//! Server functions of the auth capability. Each parses its input, asks the service, and
//! returns `AppError` (its status set by `respond`).

use super::model::SessionInfo;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server::{self as auth, request_meta},
    crate::domain::{Email, OrgName, Password, PersonName},
    crate::state::from_context as state,
};

/// The signed-in person and their organizations, or `None`.
#[server(endpoint = "session")]
pub async fn current_session() -> Result<Option<SessionInfo>, AppError> {
    let state = state()?;
    auth::page_session(&state, &request_meta(&state)).await
}

/// Creates a user, a new organization with that user as its Owner, and signs them in.
#[server(endpoint = "sign_up")]
pub async fn sign_up(
    name: String,
    email: String,
    password: String,
    organization: String,
) -> Result<(), AppError> {
    let state = state()?;
    if !state.settings.open_signup {
        return Err(AppError::Forbidden);
    }
    let meta = request_meta(&state);
    let name = PersonName::parse(&name)?;
    let email = Email::parse(&email)?;
    let password = Password::parse(&password)?;
    let org_name = OrgName::parse(&organization)?;
    // Cheap checks first: a sign-up costs an argon2 hash, so a client gets a few per window.
    auth::limit_account_creation(&state, &meta).await?;
    let hash = auth::password::hash(&state, password).await?;
    let (user_id, org_id) =
        auth::store::create_user_with_org(&state, &name, &email, &hash, &org_name, &meta.ip)
            .await?;
    let proof = auth::proof::Proof::new(&[auth::proof::Method::Password], None);
    auth::start_session(&state, &meta, user_id, Some(org_id), &proof).await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Signs in; `next` is where to go afterwards (a path on this site; default the overview).
#[server(endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    let state = state()?;
    let meta = request_meta(&state);
    let user_id = auth::sign_in(&state, &meta, &email, &password).await?;
    let next = next.as_deref().and_then(auth::local_redirect);
    if crate::two_factor::server::is_enabled(&state, user_id).await? {
        // Not signed in yet: the second step finishes the sign-in.
        let token =
            crate::two_factor::server::start_challenge(&state, user_id, next.as_deref()).await?;
        auth::set_cookie(
            &state,
            auth::CHALLENGE_COOKIE,
            &token,
            crate::two_factor::server::CHALLENGE_SECS as u64,
        );
        leptos_axum::redirect("/signin/two-factor");
        return Ok(());
    }
    let proof = auth::proof::Proof::new(&[auth::proof::Method::Password], None);
    auth::start_session(&state, &meta, user_id, None, &proof).await?;
    // An SSO identity waiting to be linked to this account: its own page asks first.
    let link = crate::sso::server::after_password_sign_in(&state, &meta, user_id).await?;
    leptos_axum::redirect(link.as_deref().or(next.as_deref()).unwrap_or("/"));
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let state = state()?;
    let meta = request_meta(&state);
    auth::end_session(&state, &meta).await?;
    leptos_axum::redirect("/signin");
    Ok(())
}

/// Chooses which of the user's organizations the pages show.
#[server(endpoint = "switch_org")]
pub async fn switch_org(org_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let meta = request_meta(&state);
    let session = auth::authenticate(&state, &meta)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    // Another organization's id answers 404, like anything the user cannot see.
    crate::orgs::store::membership(&state.db.pool, org_id, session.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    auth::store::set_current_org(&state, &session.id_hash, org_id).await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// **Confirm access**: proves the signed-in person again (password, and a code when 2FA is
/// on) so that sensitive actions are allowed for the next few minutes.
#[server(endpoint = "auth/confirm_access")]
pub async fn confirm_access(password: String, code: Option<String>) -> Result<(), AppError> {
    let state = state()?;
    let (session, _) = auth::signed_in(&state).await?;
    auth::confirm::confirm_access(&state, &session, &password, code.as_deref()).await
}

/// **Change password**: the current password and a new one; other sessions are signed out.
#[server(endpoint = "auth/change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = auth::signed_in(&state).await?;
    let new = Password::parse(&new_password).map_err(|e| match e {
        AppError::Invalid { message, .. } => AppError::invalid("new_password", message),
        other => other,
    })?;
    auth::change_password(&state, &session, meta.ip, &current_password, new).await
}

/// Profile → **Your account** → Name.
#[server(endpoint = "auth/change_name")]
pub async fn change_name(name: String) -> Result<(), AppError> {
    let state = state()?;
    let (session, meta) = auth::signed_in(&state).await?;
    let name = PersonName::parse(&name)?;
    auth::change_name(&state, &session, meta.ip, name).await
}
