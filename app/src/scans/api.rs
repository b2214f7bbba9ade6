//! Server functions of the Scans page. Each resolves the member with `org_actor`; the
//! service decides what they may see and do.

use super::model::{GroupScans, ScanGroup, ScanRow, ScansPage};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::model::ScanStatus, super::server, crate::auth::server::org_actor,
    crate::state::from_context as state,
};

/// Filters come from the page's query string: empty means "any".
#[server(endpoint = "scans/list")]
pub async fn list_scans(
    org_id: i64,
    group_id: Option<String>,
    status: Option<String>,
    before: Option<String>,
) -> Result<ScansPage, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let group_id = group_id
        .filter(|g| !g.trim().is_empty())
        .map(|g| {
            g.trim()
                .parse::<i64>()
                .map_err(|_| AppError::invalid("group_id", "Choose a group from the list."))
        })
        .transpose()?;
    let status = status
        .filter(|s| !s.trim().is_empty())
        .map(|s| ScanStatus::parse(&s))
        .transpose()?;
    let before = before
        .filter(|b| !b.trim().is_empty())
        .map(|b| server::decode_cursor(&b))
        .transpose()?;
    server::list(&state, &actor, group_id, status, before, server::PAGE_SIZE).await
}

/// The groups the user may start scans in.
#[server(endpoint = "scans/groups")]
pub async fn scan_groups(org_id: i64) -> Result<Vec<ScanGroup>, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(
        actor.role,
        crate::policy::Action::Scans {
            member_of_group: true,
        },
    )?;
    server::groups(&state, &actor).await
}

/// **New scan** → target URL, group → **Start scan**.
#[server(endpoint = "scans/create")]
pub async fn start_scan(
    org_id: i64,
    group_id: String,
    target: String,
) -> Result<ScanRow, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let group_id = group_id
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::invalid("group_id", "Choose one of your groups."))?;
    let target = server::parse_target(&target)?;
    server::create(&state, &actor, group_id, target).await
}

#[server(endpoint = "scans/cancel")]
pub async fn cancel_scan(org_id: i64, scan_id: i64) -> Result<ScanRow, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::cancel(&state, &actor, scan_id).await
}

/// A scan's page.
#[server(endpoint = "scans/get")]
pub async fn get_scan(org_id: i64, scan_id: i64) -> Result<ScanRow, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::get(&state, &actor, scan_id).await
}

/// A group page's scans: usage against the limit and the latest five.
#[server(endpoint = "scans/group")]
pub async fn get_group_scans(org_id: i64, group_id: i64) -> Result<GroupScans, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::group_scans(&state, &actor, group_id, 5).await
}
