//! `GET /api/v1/org`.

use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::error::AppError;
use crate::state::AppState;
use crate::two_factor::model::PolicyLevel;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    #[schema(example = "team")]
    pub plan: String,
    pub require_two_factor: bool,
    /// Which second factors the policy accepts while it is on: `any`, or `security_keys`
    /// (security keys and passkeys only); `null` when 2FA is not required.
    #[schema(example = "any")]
    pub two_factor_methods: Option<&'static str>,
    pub members: i64,
}

/// The key's organization. Scope `org:read`.
#[utoipa::path(get, path = "/org", tag = "organization", responses((status = 200, body = Organization)))]
async fn get_org(
    State(state): State<AppState>,
    key: KeyActor,
) -> Result<Json<Organization>, AppError> {
    let actor = key.require(Scope::OrgRead)?;
    let (name, plan, require_two_factor, members): (String, String, i64, i64) = sqlx::query_as(
        "SELECT o.name, o.plan, o.require_two_factor,
                (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id)
         FROM organizations o WHERE o.id = $1",
    )
    .bind(actor.org_id)
    .fetch_one(&state.db.pool)
    .await?;
    Ok(Json(Organization {
        id: actor.org_id,
        name,
        plan,
        require_two_factor: require_two_factor != 0,
        two_factor_methods: PolicyLevel::from_stored(require_two_factor).map(PolicyLevel::as_str),
        members,
    }))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_org))
}
