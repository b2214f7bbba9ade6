//! The preview's server function, for the Owner's panels.

use super::model::{Impact, Trials};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::model::{Proposal, SHOWN},
    super::{server, trials},
    crate::auth::server::org_actor,
    crate::state::from_context as state,
};

/// What `policy` (`two_factor`, `security_keys`, `sso`) would block if applied now with a
/// grace period of `grace_days`.
#[server(endpoint = "org/policies/preview")]
pub async fn policy_impact(
    org_id: i64,
    policy: String,
    grace_days: Option<String>,
) -> Result<Impact, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let proposal = Proposal::parse(&policy)?;
    let grace_days = server::grace_days(grace_days.as_deref())?;
    server::preview(&state, &actor, proposal, grace_days, SHOWN).await
}

/// The organization's report-only trials and what they counted.
#[server(endpoint = "org/policies/trials")]
pub async fn policy_trials(org_id: i64) -> Result<Trials, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    trials::view(&state, &actor).await
}

/// **Report only**: tries `policy` for `days` (1–30) without refusing anything.
#[server(endpoint = "org/policies/trials/start")]
pub async fn start_policy_trial(org_id: i64, policy: String, days: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    let policy = Proposal::parse(&policy)?;
    let days = trials::trial_days(&days)?;
    trials::start(&state, &actor, policy, days).await
}

/// Stops the report-only trial of `policy`.
#[server(endpoint = "org/policies/trials/stop")]
pub async fn stop_policy_trial(org_id: i64, policy: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    let policy = Proposal::parse(&policy)?;
    trials::stop(&state, &actor, policy).await
}
