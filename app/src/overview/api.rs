use super::model::Overview;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {crate::auth::server::org_actor, crate::state::from_context as state};

#[server(endpoint = "overview")]
pub async fn get_overview(org_id: i64) -> Result<Overview, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    super::server::load(&state, &actor).await
}
