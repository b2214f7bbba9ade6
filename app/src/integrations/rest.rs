//! `/api/v1/groups/{id}/integrations`: a group's webhook, Slack and email integrations, and a
//! test delivery.

use super::model::{DeliveryRow, Kind};
use super::server::{self, delivery, IntegrationInput};
use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::error::AppError;
use crate::rest::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct Integrations {
    pub webhook_enabled: bool,
    pub webhook_url: String,
    /// Whether a signing secret is stored (it is never sent back).
    pub webhook_secret_set: bool,
    pub slack_enabled: bool,
    /// The end of the Slack URL, to recognise it (the URL is a secret).
    pub slack_hint: Option<String>,
    pub email_enabled: bool,
    pub email_recipients: String,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<Delivery>,
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    #[schema(example = "scan.finished")]
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    pub created: String,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Self {
        Self {
            id: d.id,
            kind: d.kind.as_str().to_string(),
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            latency_ms: d.latency_ms,
            error: d.error,
            created: d.created,
        }
    }
}

/// One integration's settings. A switched-on integration needs its settings: `url` for
/// webhook and Slack, `recipients` (comma-separated emails) for email. `secret` (webhook, at
/// least 16 characters) left out keeps the stored one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    pub enabled: bool,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub recipients: Option<String>,
}

#[derive(Deserialize)]
pub struct IntegrationPath {
    pub id: i64,
    pub kind: String,
}

fn kind_of(raw: &str) -> Result<Kind, AppError> {
    // An unknown kind names no resource.
    Kind::parse(raw).ok_or(AppError::NotFound)
}

/// A group's integrations and latest deliveries. Scope `groups:read`.
#[utoipa::path(get, path = "/groups/{id}/integrations", tag = "groups",
    params(("id" = i64, Path)), responses((status = 200, body = Integrations)))]
async fn get_integrations(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Integrations>, AppError> {
    let actor = key.require(Scope::GroupsRead)?;
    let v = server::view(&state, actor, id).await?;
    Ok(Json(Integrations {
        webhook_enabled: v.webhook_enabled,
        webhook_url: v.webhook_url,
        webhook_secret_set: v.webhook_secret_set,
        slack_enabled: v.slack_enabled,
        slack_hint: v.slack_hint,
        email_enabled: v.email_enabled,
        email_recipients: v.email_recipients,
        deliveries: v.deliveries.into_iter().map(Delivery::from).collect(),
    }))
}

/// Sets one integration (`webhook`, `slack` or `email`). Scope `groups:write` (Owner, Admin,
/// or a Team Leader in the group).
#[utoipa::path(put, path = "/groups/{id}/integrations/{kind}", tag = "groups",
    params(("id" = i64, Path), ("kind" = String, Path, description = "webhook, slack or email")),
    request_body = IntegrationSettings, responses((status = 204, description = "Saved")))]
async fn put_integration(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(path): ApiPath<IntegrationPath>,
    ApiJson(body): ApiJson<IntegrationSettings>,
) -> Result<http::StatusCode, AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    let kind = kind_of(&path.kind)?;
    let input = IntegrationInput::parse(
        kind,
        body.enabled,
        body.url.as_deref(),
        body.secret.as_deref(),
        body.recipients.as_deref(),
    )?;
    server::save_for_group(&state, actor, path.id, &input).await?;
    Ok(http::StatusCode::NO_CONTENT)
}

/// Sends a test event through one integration now and answers the delivery. Scope
/// `groups:write`.
#[utoipa::path(post, path = "/groups/{id}/integrations/{kind}/test", tag = "groups",
    params(("id" = i64, Path), ("kind" = String, Path, description = "webhook, slack or email")),
    responses((status = 200, body = Delivery)))]
async fn test_integration(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(path): ApiPath<IntegrationPath>,
) -> Result<Json<Delivery>, AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    let kind = kind_of(&path.kind)?;
    let group = crate::groups::access::authorize_edit(&state, actor, path.id).await?;
    Ok(Json(
        delivery::send_test(&state, path.id, &group, kind)
            .await?
            .into(),
    ))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_integrations))
        .routes(routes!(put_integration))
        .routes(routes!(test_integration))
}
