//! `/api/v1/members`: list and search, change a role, remove.

use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::domain::Role;
use crate::error::AppError;
use crate::rest::extract::{bad_cursor, page_limit, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Part of a name or email.
    pub q: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    #[param(pattern = "^$|^[0-9]{1,18}:")]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    #[schema(example = "team_leader")]
    pub role: String,
    /// YYYY-MM-DD.
    pub joined: String,
    pub two_factor: bool,
    /// Names of the groups the member is in.
    pub groups: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<Member>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(value_type = Role, example = "admin")]
    pub role: String,
}

/// Members by name. Scope `members:read`.
#[utoipa::path(get, path = "/members", tag = "members", params(MemberQuery),
    responses((status = 200, body = MemberList)))]
async fn list_members(
    State(state): State<AppState>,
    key: KeyActor,
    ApiQuery(query): ApiQuery<MemberQuery>,
) -> Result<Json<MemberList>, AppError> {
    let actor = key.require(Scope::MembersRead)?;
    let limit = page_limit(query.limit)?;
    let after = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| super::server::decode_cursor(&c).map_err(|_| bad_cursor()))
        .transpose()?;
    let page = super::server::page(&state, actor, query.q.as_deref(), after, limit).await?;
    Ok(Json(MemberList {
        members: page
            .members
            .into_iter()
            .map(|m| Member {
                user_id: m.user_id,
                name: m.name,
                email: m.email,
                role: m.role.as_str().to_string(),
                joined: m.joined,
                two_factor: m.two_factor,
                groups: m.groups,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Changes a member's role. Scope `members:write`.
#[utoipa::path(patch, path = "/members/{user_id}", tag = "members", request_body = RoleChange,
    params(("user_id" = i64, Path)), responses((status = 204, description = "Changed"),
        (status = 409, description = "Your own role, or the last Owner's")))]
async fn change_role(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<StatusCode, AppError> {
    let actor = key.require(Scope::MembersWrite)?;
    let role = Role::parse(&body.role)?;
    super::server::change_role(&state, actor, user_id, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member from the organization (their sessions and keys stop working for it).
/// Scope `members:write`.
#[utoipa::path(delete, path = "/members/{user_id}", tag = "members",
    params(("user_id" = i64, Path)), responses((status = 204, description = "Removed"),
        (status = 409, description = "The organization's last Owner")))]
async fn remove_member(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(user_id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    let actor = key.require(Scope::MembersWrite)?;
    super::server::remove(&state, actor, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove_member))
}
