//! `GET /api/v1/org/policies/preview`.

use super::model::{Impact, Proposal};
use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::error::AppError;
use crate::rest::extract::{page_limit, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The policy: `two_factor` (any method), `security_keys` (security keys and passkeys
    /// only) or `sso` (single sign-on).
    pub policy: Proposal,
    /// The grace period it would be applied with, 0–30 days (default 0). Ignored for `sso`.
    #[param(minimum = 0, maximum = 30)]
    pub grace_days: Option<i64>,
    /// How many members and keys to list, 1–200 (default 50). The counts are of all.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Who and which API keys a policy would block if an Owner applied it now: each member
/// with why, each key with its scopes and its last use (when, from which address, with
/// which client). Scope `members:read`; the key's owner must be an Owner. Changes nothing.
#[utoipa::path(
    get,
    path = "/org/policies/preview",
    tag = "organization",
    params(PreviewQuery),
    responses((status = 200, body = Impact))
)]
async fn preview(
    State(state): State<AppState>,
    key: KeyActor,
    ApiQuery(query): ApiQuery<PreviewQuery>,
) -> Result<Json<Impact>, AppError> {
    let actor = key.require(Scope::MembersRead)?;
    let grace_days = super::server::check_grace_days(query.grace_days)?;
    let limit = page_limit(query.limit)?;
    super::server::preview(&state, actor, query.policy, grace_days, limit)
        .await
        .map(Json)
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview))
}
