//! `/api/v1/invitations`: list pending, invite, revoke, resend.

use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::domain::{Email, PersonName, Role};
use crate::error::AppError;
use crate::rest::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct Invitation {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    /// YYYY-MM-DD.
    pub invited: String,
    pub expires: String,
    pub expired: bool,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    /// Pending invitations, newest first (at most 200).
    pub invitations: Vec<Invitation>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    #[schema(
        max_length = 100,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    #[schema(
        max_length = 254,
        pattern = "^[^@<>\\s\\x00-\\x1f\\x7f-\\x9f]{1,64}@[^@<>.\\s\\x00-\\x1f\\x7f-\\x9f]+(\\.[^@<>.\\s\\x00-\\x1f\\x7f-\\x9f]+)+$"
    )]
    pub email: String,
    /// Owner needs an Owner's key.
    #[schema(value_type = Role, example = "user")]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationSent {
    pub email: String,
    /// True when an email with the link was sent.
    pub emailed: bool,
    /// True when SMTP is configured but the email could not be sent: pass `link` on yourself.
    pub email_failed: bool,
    /// The link to pass on, when no email was sent (no SMTP configured, or sending failed).
    pub link: Option<String>,
}

/// Pending invitations. Scope `members:read` (and a role that manages members).
#[utoipa::path(get, path = "/invitations", tag = "invitations",
    responses((status = 200, body = InvitationList)))]
async fn list_invitations(
    State(state): State<AppState>,
    key: KeyActor,
) -> Result<Json<InvitationList>, AppError> {
    let actor = key.require(Scope::MembersRead)?;
    let pending = super::server::pending(&state, actor).await?;
    Ok(Json(InvitationList {
        invitations: pending
            .into_iter()
            .map(|p| Invitation {
                id: p.id,
                name: p.name,
                email: p.email,
                role: p.role.as_str().to_string(),
                invited: p.invited,
                expires: p.expires,
                expired: p.expired,
            })
            .collect(),
    }))
}

/// Invites a person with a role. Scope `members:write`.
#[utoipa::path(post, path = "/invitations", tag = "invitations", request_body = NewInvitation,
    responses((status = 201, body = InvitationSent), (status = 409, description = "Already a member, or no seats left")))]
async fn create_invitation(
    State(state): State<AppState>,
    key: KeyActor,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<InvitationSent>), AppError> {
    let actor = key.require(Scope::MembersWrite)?;
    let name = PersonName::parse(&body.name)?;
    let email = Email::parse(&body.email)?;
    let role = Role::parse(&body.role)?;
    let outcome = super::server::create(&state, actor, name, email, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationSent {
            email: outcome.email,
            emailed: outcome.emailed,
            email_failed: outcome.email_failed,
            link: outcome.link,
        }),
    ))
}

/// Revokes a pending invitation. Scope `members:write`.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "invitations",
    params(("id" = i64, Path)), responses((status = 204, description = "Revoked")))]
async fn revoke_invitation(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    let actor = key.require(Scope::MembersWrite)?;
    super::server::revoke(&state, actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a pending invitation again with a new link (the old link stops working).
/// Scope `members:write`.
#[utoipa::path(post, path = "/invitations/{id}/resend", tag = "invitations",
    params(("id" = i64, Path)), responses((status = 200, body = InvitationSent)))]
async fn resend_invitation(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InvitationSent>, AppError> {
    let actor = key.require(Scope::MembersWrite)?;
    let outcome = super::server::resend(&state, actor, id).await?;
    Ok(Json(InvitationSent {
        email: outcome.email,
        emailed: outcome.emailed,
        email_failed: outcome.email_failed,
        link: outcome.link,
    }))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
        .routes(routes!(resend_invitation))
}
