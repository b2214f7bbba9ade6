use super::model::{AuditFilter, AuditPage};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {crate::auth::server::org_actor, crate::state::from_context as state};

#[server(endpoint = "audit/list")]
pub async fn audit_log(
    org_id: i64,
    filter: Option<AuditFilter>,
    before: Option<String>,
) -> Result<AuditPage, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    super::page(
        &state,
        &actor,
        &filter.unwrap_or_default(),
        before.as_deref(),
        super::read::PAGE_SIZE,
    )
    .await
}
