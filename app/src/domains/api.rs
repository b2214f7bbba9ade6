//! Server functions of the Verified domains panel: org-scoped, authorized through `org_actor`
//! and the policy module; changes ask for Confirm access, as every change of an
//! organization's security does.

use super::model::{DomainEntry, DomainsView};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server,
    crate::auth::server::{org_actor, require_recent_auth},
    crate::domain::DomainName,
    crate::state::from_context as state,
};

#[server(endpoint = "org/domains")]
pub async fn get_domains(org_id: i64) -> Result<DomainsView, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::view(&state, &actor).await
}

/// **Add domain**: answers it with the TXT record to publish.
#[server(endpoint = "org/domains/add")]
pub async fn add_domain(org_id: i64, domain: String) -> Result<DomainEntry, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let domain = DomainName::parse(&domain)?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    server::add(&state, &actor, domain).await
}

/// **Verify**: looks the record up now.
#[server(endpoint = "org/domains/verify")]
pub async fn verify_domain(org_id: i64, id: i64) -> Result<DomainEntry, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    server::verify(&state, &actor, id).await
}

#[server(endpoint = "org/domains/remove")]
pub async fn remove_domain(org_id: i64, id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::ManageOrganization)?;
    require_recent_auth(&state, actor.authenticated_at)?;
    server::remove(&state, &actor, id).await
}
