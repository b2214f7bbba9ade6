use super::model::Billing;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::model::{parse_seats, Plan},
    super::server,
    crate::auth::server::org_actor,
    crate::domain::Email,
    crate::state::from_context as state,
};

#[server(endpoint = "billing/get")]
pub async fn get_billing(org_id: i64) -> Result<Billing, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::get(&state, &actor).await
}

#[server(endpoint = "billing/update")]
pub async fn update_billing(
    org_id: i64,
    plan: String,
    seats: String,
    billing_email: String,
) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let plan = Plan::parse(&plan)?;
    let seats = parse_seats(&seats)?;
    let billing_email = match billing_email.trim() {
        "" => None,
        raw => {
            Some(Email::parse(raw).map_err(|e| AppError::invalid("billing_email", e.to_string()))?)
        }
    };
    server::update(&state, &actor, plan, seats, billing_email).await
}
