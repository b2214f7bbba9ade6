//! `/api/v1/billing`: plan, seats and billing email.

use super::model::{parse_seats, Plan};
use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::domain::Email;
use crate::error::AppError;
use crate::rest::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct Billing {
    #[schema(example = "team")]
    pub plan: String,
    pub seats: i64,
    pub billing_email: String,
    /// Seats in use: members and pending invitations.
    pub members: i64,
    pub pending_invitations: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingChange {
    #[schema(value_type = Option<Plan>)]
    pub plan: Option<String>,
    /// At least the seats in use (fewer: 409).
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(default, deserialize_with = "crate::rest::extract::whole_number_opt")]
    pub seats: Option<i64>,
    /// An empty string clears it.
    #[schema(
        max_length = 254,
        pattern = "^$|^[^@<>\\s\\x00-\\x1f\\x7f-\\x9f]{1,64}@[^@<>.\\s\\x00-\\x1f\\x7f-\\x9f]+(\\.[^@<>.\\s\\x00-\\x1f\\x7f-\\x9f]+)+$"
    )]
    pub billing_email: Option<String>,
}

async fn current(
    state: &AppState,
    actor: &crate::auth::server::Actor,
) -> Result<Billing, AppError> {
    let b = super::server::get(state, actor).await?;
    Ok(Billing {
        plan: b.plan.as_str().to_string(),
        seats: b.seats,
        billing_email: b.billing_email,
        members: b.members,
        pending_invitations: b.pending_invitations,
    })
}

/// Plan, seats and billing email. Scope `billing:read`.
#[utoipa::path(get, path = "/billing", tag = "billing", responses((status = 200, body = Billing)))]
async fn get_billing(
    State(state): State<AppState>,
    key: KeyActor,
) -> Result<Json<Billing>, AppError> {
    let actor = key.require(Scope::BillingRead)?;
    Ok(Json(current(&state, actor).await?))
}

/// Changes the plan, seats or billing email; fields left out keep their value.
/// Scope `billing:write`.
#[utoipa::path(patch, path = "/billing", tag = "billing", request_body = BillingChange,
    responses((status = 200, body = Billing),
        (status = 409, description = "Fewer seats than are in use")))]
async fn update_billing(
    State(state): State<AppState>,
    key: KeyActor,
    ApiJson(change): ApiJson<BillingChange>,
) -> Result<Json<Billing>, AppError> {
    let actor = key.require(Scope::BillingWrite)?;
    let now = super::server::get(&state, actor).await?;
    let plan = match change.plan {
        Some(raw) => Plan::parse(&raw)?,
        None => now.plan,
    };
    let seats = match change.seats {
        Some(n) => parse_seats(&n.to_string())?,
        None => now.seats,
    };
    let billing_email = match change.billing_email {
        Some(raw) if raw.trim().is_empty() => None,
        Some(raw) => Some(Email::parse(&raw).map_err(|_| {
            AppError::invalid(
                "billing_email",
                "Enter an email address like name@example.com.",
            )
        })?),
        None => Email::parse(&now.billing_email).ok(),
    };
    super::server::update(&state, actor, plan, seats, billing_email).await?;
    Ok(Json(current(&state, actor).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_billing, update_billing))
}
