use super::model::{Billing, Plan};
use crate::auth::server::Actor;
use crate::domain::Email;
use crate::error::AppError;
use crate::invitations::server::seats_used;
use crate::orgs::store::lock_org;
use crate::policy::{authorize, Action};
use crate::state::AppState;

pub async fn get(state: &AppState, actor: &Actor) -> Result<Billing, AppError> {
    authorize(actor.role, Action::ManageBilling)?;
    let mut conn = state.db.pool.acquire().await?;
    let (plan, seats, billing_email): (String, i64, String) =
        sqlx::query_as("SELECT plan, seats, billing_email FROM organizations WHERE id = $1")
            .bind(actor.org_id)
            .fetch_one(&mut *conn)
            .await?;
    let (members, pending_invitations) = seats_used(&mut conn, actor.org_id, state.now()).await?;
    Ok(Billing {
        plan: Plan::parse(&plan).unwrap_or(Plan::Free),
        seats,
        billing_email,
        members,
        pending_invitations,
    })
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    plan: Plan,
    seats: i64,
    billing_email: Option<Email>,
) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageBilling)?;
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let (members, pending) = seats_used(&mut tx, actor.org_id, state.now()).await?;
    // Well-formed, but fewer than the organization uses now: a conflict with its state.
    if seats < members + pending {
        return Err(AppError::conflict(
            "seats",
            format!(
                "{} seats are in use ({members} members, {pending} pending invitations).",
                members + pending
            ),
        ));
    }
    let email = billing_email
        .as_ref()
        .map(|e| e.as_str().to_string())
        .unwrap_or_default();
    sqlx::query("UPDATE organizations SET plan = $1, seats = $2, billing_email = $3 WHERE id = $4")
        .bind(plan.as_str())
        .bind(seats)
        .bind(&email)
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("billing.updated", format!("org:{}", actor.org_id))
            .details(
                serde_json::json!({"plan": plan.as_str(), "seats": seats, "billing_email": email}),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
