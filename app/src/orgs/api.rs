use super::model::OrgSettings;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server, crate::auth::server::org_actor, crate::domain::OrgName,
    crate::state::from_context as state,
};

#[server(endpoint = "org/settings")]
pub async fn get_org_settings(org_id: i64) -> Result<OrgSettings, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::settings(&state, &actor).await
}

#[server(endpoint = "org/rename")]
pub async fn rename_org(org_id: i64, organization: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let name = OrgName::parse(&organization)?;
    server::rename(&state, &actor, name).await
}

#[server(endpoint = "org/delete")]
pub async fn delete_org(org_id: i64, confirm: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::auth::server::require_recent_auth(&state, actor.authenticated_at)?;
    server::delete(&state, &actor, &confirm).await?;
    leptos_axum::redirect("/");
    Ok(())
}
