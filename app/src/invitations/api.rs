use super::model::{InvitationView, InviteOutcome, PendingInvitation};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server,
    crate::auth::server::{org_actor, request_meta},
    crate::domain::{Email, Password, PersonName, Role},
    crate::state::from_context as state,
};

#[server(endpoint = "invitations/create")]
pub async fn invite(
    org_id: i64,
    name: String,
    email: String,
    role: String,
) -> Result<InviteOutcome, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let name = PersonName::parse(&name)?;
    let email = Email::parse(&email)?;
    let role = Role::parse(&role)?;
    server::create(&state, &actor, name, email, role).await
}

#[server(endpoint = "invitations/pending")]
pub async fn pending_invitations(org_id: i64) -> Result<Vec<PendingInvitation>, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::pending(&state, &actor).await
}

#[server(endpoint = "invitations/revoke")]
pub async fn revoke_invitation(org_id: i64, id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::revoke(&state, &actor, id).await
}

#[server(endpoint = "invitations/resend")]
pub async fn resend_invitation(org_id: i64, id: i64) -> Result<InviteOutcome, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::resend(&state, &actor, id).await
}

/// The invitation behind a link (no sign-in needed: the token is the secret).
#[server(endpoint = "invitations/view")]
pub async fn invitation(token: String) -> Result<InvitationView, AppError> {
    let state = state()?;
    let meta = request_meta(&state);
    server::view(&state, &meta, &token).await
}

#[server(endpoint = "invitations/accept_new")]
pub async fn accept_as_new_user(
    token: String,
    name: String,
    password: String,
) -> Result<(), AppError> {
    let state = state()?;
    let meta = request_meta(&state);
    let name = PersonName::parse(&name)?;
    let password = Password::parse(&password)?;
    server::accept_as_new_user(&state, &meta, &token, name, password).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "invitations/accept")]
pub async fn accept_invitation(token: String) -> Result<(), AppError> {
    let state = state()?;
    let meta = request_meta(&state);
    server::accept_as_signed_in(&state, &meta, &token).await?;
    leptos_axum::redirect("/");
    Ok(())
}
