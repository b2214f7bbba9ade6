//! `GET /api/v1/me`: who a key acts as.

use super::server::KeyActor;
use crate::state::AppState;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    /// The key's organization.
    pub org_id: i64,
    /// The owner's current role there: `owner`, `admin`, `user`, `team_leader`, `billing_manager`.
    #[schema(example = "admin")]
    pub role: String,
    #[schema(example = json!(["members:read", "groups:write"]))]
    pub scopes: Vec<String>,
    pub key_id: i64,
}

/// The key's owner, organization, current role and scopes. Needs no scope.
#[utoipa::path(get, path = "/me", tag = "me", responses((status = 200, body = Me)))]
async fn me(key: KeyActor) -> Json<Me> {
    let actor = key.actor;
    Json(Me {
        user_id: actor.user_id,
        name: actor.name,
        email: actor.email,
        org_id: actor.org_id,
        role: actor.role.as_str().to_string(),
        scopes: key.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        key_id: key.key_id,
    })
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}
