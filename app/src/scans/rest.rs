//! `/api/v1/scans`: create, list, read, cancel; and the runner endpoints (claim, heartbeat,
//! finish) that external scanners call with their API key.

use super::model::{ScanRow, ScanStatus};
use super::server;
use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::error::AppError;
use crate::rest::extract::{page_limit, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct Scan {
    pub id: i64,
    pub group_id: i64,
    pub group: String,
    #[schema(example = "https://app.example.com")]
    pub target: String,
    /// `queued`, `running`, `finished`, `failed` or `cancelled`.
    #[schema(example = "queued")]
    pub status: String,
    /// `Name <email>` of who started it.
    pub started_by: String,
    /// Unix seconds.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// How many times a runner claimed it (more than 1 after a runner went silent).
    pub attempts: i64,
    pub result: Option<String>,
}

impl From<ScanRow> for Scan {
    fn from(s: ScanRow) -> Self {
        Self {
            id: s.id,
            group_id: s.group_id,
            group: s.group_name,
            target: s.target,
            status: s.status.as_str().to_string(),
            started_by: s.started_by,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            attempts: s.attempts,
            result: s.result,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScanList {
    pub scans: Vec<Scan>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScanQuery {
    #[param(minimum = 1)]
    pub group_id: Option<i64>,
    #[param(value_type = Option<ScanStatus>, inline)]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    #[param(pattern = "^$|^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScan {
    /// One of the key owner's groups (another: 404).
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "crate::rest::extract::whole_number")]
    pub group_id: i64,
    /// An http(s) URL naming a host.
    #[schema(
        example = "https://app.example.com",
        max_length = 2048,
        pattern = "^https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(:[0-9]{1,4})?([/?#][!-~]*)?$"
    )]
    pub target: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanResult {
    #[schema(value_type = FinishedStatus)]
    pub status: String,
    /// A summary for people.
    #[schema(max_length = 10000)]
    pub result: Option<String>,
}

/// How a claimed scan ended.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FinishedStatus {
    Finished,
    Failed,
}

/// Scans of the key owner's groups (Owners and Admins: all), newest first. Scope `scans:read`.
#[utoipa::path(get, path = "/scans", tag = "scans", params(ScanQuery),
    responses((status = 200, body = ScanList)))]
async fn list_scans(
    State(state): State<AppState>,
    key: KeyActor,
    ApiQuery(query): ApiQuery<ScanQuery>,
) -> Result<Json<ScanList>, AppError> {
    let actor = key.require(Scope::ScansRead)?;
    let limit = page_limit(query.limit)?;
    let status = query.status.as_deref().map(ScanStatus::parse).transpose()?;
    if query.group_id.is_some_and(|id| id < 1) {
        return Err(AppError::invalid(
            "group_id",
            "A group id is a whole number from 1.",
        ));
    }
    let before = query
        .cursor
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(server::decode_cursor)
        .transpose()?;
    let page = server::list(&state, actor, query.group_id, status, before, limit).await?;
    Ok(Json(ScanList {
        scans: page.scans.into_iter().map(Scan::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Queues a scan in one of the key owner's groups. Scope `scans:write`.
#[utoipa::path(post, path = "/scans", tag = "scans", request_body = NewScan,
    responses((status = 201, body = Scan)))]
async fn create_scan(
    State(state): State<AppState>,
    key: KeyActor,
    ApiJson(body): ApiJson<NewScan>,
) -> Result<(StatusCode, Json<Scan>), AppError> {
    let actor = key.require(Scope::ScansWrite)?;
    let target = server::parse_target(&body.target)?;
    let scan = server::create(&state, actor, body.group_id, target).await?;
    Ok((StatusCode::CREATED, Json(scan.into())))
}

/// One scan. Scope `scans:read`.
#[utoipa::path(get, path = "/scans/{id}", tag = "scans", params(("id" = i64, Path)),
    responses((status = 200, body = Scan)))]
async fn get_scan(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Scan>, AppError> {
    let actor = key.require(Scope::ScansRead)?;
    Ok(Json(server::get(&state, actor, id).await?.into()))
}

/// Cancels a queued or running scan. Scope `scans:write`.
#[utoipa::path(post, path = "/scans/{id}/cancel", tag = "scans", params(("id" = i64, Path)),
    responses((status = 200, body = Scan), (status = 409, description = "The scan has ended")))]
async fn cancel_scan(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Scan>, AppError> {
    let actor = key.require(Scope::ScansWrite)?;
    Ok(Json(server::cancel(&state, actor, id).await?.into()))
}

/// Runner: claims the oldest queued scan whose group has a free slot under its concurrent
/// scans limit; 204 when there is none. Scope `scans:write`. Send a heartbeat at least every
/// `--scan-heartbeat-timeout` seconds (default 90) or the scan goes back to the queue.
#[utoipa::path(post, path = "/scans/claim", tag = "scans",
    responses((status = 200, body = Scan), (status = 204, description = "Nothing to run now")))]
async fn claim_scan(State(state): State<AppState>, key: KeyActor) -> Result<Response, AppError> {
    key.require(Scope::ScansWrite)?;
    Ok(match server::claim(&state, &key).await? {
        Some(scan) => Json(Scan::from(scan)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Runner: a sign of life for a scan this key claimed. 409 when it was cancelled or handed to
/// another runner: stop working on it. Scope `scans:write`.
#[utoipa::path(post, path = "/scans/{id}/heartbeat", tag = "scans", params(("id" = i64, Path)),
    responses((status = 204, description = "Keep going"), (status = 409, description = "Stop: not running for this runner")))]
async fn heartbeat(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    key.require(Scope::ScansWrite)?;
    server::heartbeat(&state, &key, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runner: the result of a scan this key claimed. Scope `scans:write`.
#[utoipa::path(post, path = "/scans/{id}/finish", tag = "scans", params(("id" = i64, Path)),
    request_body = ScanResult,
    responses((status = 200, body = Scan), (status = 409, description = "Not running for this runner")))]
async fn finish_scan(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ScanResult>,
) -> Result<Json<Scan>, AppError> {
    key.require(Scope::ScansWrite)?;
    let status = ScanStatus::parse(&body.status)?;
    Ok(Json(
        server::finish(&state, &key, id, status, body.result)
            .await?
            .into(),
    ))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_scans, create_scan))
        .routes(routes!(claim_scan))
        .routes(routes!(get_scan))
        .routes(routes!(cancel_scan))
        .routes(routes!(heartbeat))
        .routes(routes!(finish_scan))
}
