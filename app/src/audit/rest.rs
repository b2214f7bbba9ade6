//! `GET /api/v1/audit-events`.

use super::model::AuditFilter;
use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::error::AppError;
use crate::rest::extract::{page_limit, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The actor's email.
    pub actor: Option<String>,
    /// An action, or its prefix: `member.` matches every member action.
    pub action: Option<String>,
    /// YYYY-MM-DD, inclusive.
    #[param(format = Date)]
    pub from: Option<String>,
    /// YYYY-MM-DD, inclusive.
    #[param(format = Date)]
    pub to: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    #[param(pattern = "^$|^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    /// `YYYY-MM-DD HH:MM UTC`.
    pub when: String,
    /// `Name <email>`; `Operator user@host` for `gatehouse admin`; `—` for the system.
    pub actor: String,
    #[schema(example = "member.role_changed")]
    pub action: String,
    #[schema(example = "user:42")]
    pub target: String,
    pub ip: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventList {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// The organization's audit log, newest first. Scope `audit:read`.
///
/// With `Accept: text/csv` or `Accept: application/x-ndjson` the answer is the whole filtered
/// log (from `cursor`, when given; `limit` does not apply) as a streamed download: CSV with a
/// header row, or one JSON object per line.
#[utoipa::path(get, path = "/audit-events", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "A page of events, or the filtered log as CSV or JSON Lines",
        content((AuditEventList = "application/json"), (String = "text/csv"), (String = "application/x-ndjson")))))]
async fn list_events(
    State(state): State<AppState>,
    key: KeyActor,
    headers: http::HeaderMap,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, AppError> {
    let actor = key.require(Scope::AuditRead)?;
    let limit = page_limit(query.limit)?;
    // The page's form sends empty dates for "any"; over the API a parameter is a date or absent.
    for (field, value) in [("from", &query.from), ("to", &query.to)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(AppError::invalid(field, "Use a date like 2026-11-28."));
        }
    }
    let filter = AuditFilter {
        actor: query.actor.unwrap_or_default(),
        action: query.action.unwrap_or_default(),
        from: query.from.unwrap_or_default(),
        to: query.to.unwrap_or_default(),
    };
    let bad_cursor = |e: AppError| match e.for_field("before") {
        Some(_) => crate::rest::extract::bad_cursor(),
        None => e,
    };
    let export = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(super::export::Format::from_accept);
    if let Some(format) = export {
        let criteria = super::Criteria::parse(actor, &filter)?;
        let before = super::parse_cursor(query.cursor.as_deref()).map_err(bad_cursor)?;
        let name = super::export::file_name(&state, actor.org_id);
        return Ok(super::export::download(
            &state, criteria, before, format, &name,
        ));
    }
    let page = super::page(&state, actor, &filter, query.cursor.as_deref(), limit)
        .await
        .map_err(bad_cursor)?;
    Ok(Json(AuditEventList {
        events: page
            .events
            .into_iter()
            .map(|e| AuditEvent {
                id: e.id,
                when: e.when,
                actor: e.actor,
                action: e.action,
                target: e.target,
                ip: e.ip,
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
    .into_response())
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}
