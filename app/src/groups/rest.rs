//! `/api/v1/groups`: list and search, create, read, change, delete, and group membership.

use super::model::GroupDetail;
use super::server::{self, GroupName, NewGroup};
use crate::api_keys::model::Scope;
use crate::api_keys::server::KeyActor;
use crate::auth::server::Actor;
use crate::error::AppError;
use crate::rest::extract::{page_limit, ApiJson, ApiPath, ApiQuery};
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
pub struct GroupQuery {
    /// Part of a group's name.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    #[param(pattern = "^$|^[0-9]{1,18}:")]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub scans_limit: i64,
    /// Integrations that are on: `Webhook`, `Slack`, `Email`.
    pub integrations_on: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupMemberOut {
    pub user_id: i64,
    pub name: String,
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub scans_limit: i64,
    /// The plan's cap on `scans_limit`.
    pub max_scans_limit: i64,
    pub member_count: i64,
    /// The first 100 members by name.
    pub members: Vec<GroupMemberOut>,
}

impl From<GroupDetail> for Group {
    fn from(g: GroupDetail) -> Self {
        Self {
            id: g.id,
            name: g.name,
            description: g.description,
            scans_limit: g.scans_limit,
            max_scans_limit: g.max_scans_limit,
            member_count: g.member_count,
            members: g
                .members
                .into_iter()
                .map(|m| GroupMemberOut {
                    user_id: m.user_id,
                    name: m.name,
                    email: m.email,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBody {
    /// Unique in the organization, whatever the case.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// 1 up to the plan's cap (Free 5, Team 100, Enterprise 1,000): above the cap, 409.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "crate::rest::extract::whole_number")]
    pub scans_limit: i64,
    /// Members of the organization to put in the group (someone else: 409).
    #[serde(default, deserialize_with = "crate::rest::extract::whole_numbers")]
    #[schema(inline, value_type = Vec<u32>, max_items = 1000)]
    pub member_ids: Vec<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChange {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// 1 up to the plan's cap (above it, 409).
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "crate::rest::extract::whole_number_opt")]
    pub scans_limit: Option<i64>,
}

#[derive(Deserialize)]
pub struct GroupMemberPath {
    pub id: i64,
    pub user_id: i64,
}

async fn scans_limit(state: &AppState, actor: &Actor, limit: i64) -> Result<i64, AppError> {
    let plan = server::plan_of(state, actor.org_id).await?;
    server::parse_scans_limit(&limit.to_string(), plan)
}

/// Groups by name. Scope `groups:read`.
#[utoipa::path(get, path = "/groups", tag = "groups", params(GroupQuery),
    responses((status = 200, body = GroupList)))]
async fn list_groups(
    State(state): State<AppState>,
    key: KeyActor,
    ApiQuery(query): ApiQuery<GroupQuery>,
) -> Result<Json<GroupList>, AppError> {
    let actor = key.require(Scope::GroupsRead)?;
    let limit = page_limit(query.limit)?;
    let after = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| server::decode_cursor(&c).map_err(|_| crate::rest::extract::bad_cursor()))
        .transpose()?;
    let page = server::page(&state, actor, query.q.as_deref(), after, limit).await?;
    Ok(Json(GroupList {
        groups: page
            .groups
            .into_iter()
            .map(|g| GroupSummary {
                id: g.id,
                name: g.name,
                description: g.description,
                member_count: g.member_count,
                scans_limit: g.scans_limit,
                integrations_on: g.integrations_on,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates a group. Scope `groups:write` (and the Owner or Admin role).
#[utoipa::path(post, path = "/groups", tag = "groups", request_body = NewGroupBody,
    responses((status = 201, body = Group), (status = 409, description = "A group with this name exists, a limit above the plan's cap, or someone who is not a member")))]
async fn create_group(
    State(state): State<AppState>,
    key: KeyActor,
    ApiJson(body): ApiJson<NewGroupBody>,
) -> Result<(StatusCode, Json<Group>), AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    crate::policy::authorize(actor.role, crate::policy::Action::CreateDeleteGroups)?;
    let mut member_ids = body.member_ids;
    member_ids.sort_unstable();
    member_ids.dedup();
    if member_ids.len() > 1000 {
        return Err(AppError::invalid(
            "member_ids",
            "Add at most 1,000 members at once.",
        ));
    }
    let group = NewGroup {
        name: GroupName::parse(&body.name)?,
        description: server::parse_description(&body.description)?,
        scans_limit: scans_limit(&state, actor, body.scans_limit).await?,
        member_ids,
        integrations: Vec::new(),
    };
    let detail = server::create(&state, actor, group).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// One group with its first 100 members. Scope `groups:read`.
#[utoipa::path(get, path = "/groups/{id}", tag = "groups", params(("id" = i64, Path)),
    responses((status = 200, body = Group)))]
async fn get_group(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Group>, AppError> {
    let actor = key.require(Scope::GroupsRead)?;
    Ok(Json(server::detail(&state, actor, id).await?.into()))
}

/// Changes a group's name, description or concurrent scans limit; fields left out keep
/// their value. Scope `groups:write` (Owner, Admin, or a Team Leader in the group).
#[utoipa::path(patch, path = "/groups/{id}", tag = "groups", params(("id" = i64, Path)),
    request_body = GroupChange, responses((status = 200, body = Group),
        (status = 409, description = "A group with this name exists, or a limit above the plan's cap")))]
async fn update_group(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(change): ApiJson<GroupChange>,
) -> Result<Json<Group>, AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    let now = server::detail(&state, actor, id).await?;
    let name = GroupName::parse(change.name.as_deref().unwrap_or(&now.name))?;
    let description =
        server::parse_description(change.description.as_deref().unwrap_or(&now.description))?;
    let limit = match change.scans_limit {
        Some(n) => scans_limit(&state, actor, n).await?,
        None => now.scans_limit,
    };
    server::update(&state, actor, id, name, description, limit).await?;
    Ok(Json(server::detail(&state, actor, id).await?.into()))
}

/// Deletes a group, its integrations and deliveries. Scope `groups:write` (Owner or Admin).
#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_group(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    crate::policy::authorize(actor.role, crate::policy::Action::CreateDeleteGroups)?;
    let group = server::detail(&state, actor, id).await?;
    server::delete(&state, actor, id, &group.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a member of the organization to the group. Scope `groups:write`.
#[utoipa::path(put, path = "/groups/{id}/members/{user_id}", tag = "groups",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204, description = "In the group"),
        (status = 409, description = "Not a member of the organization")))]
async fn add_member(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(path): ApiPath<GroupMemberPath>,
) -> Result<StatusCode, AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    server::add_member(&state, actor, path.id, path.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member from the group (not from the organization). Scope `groups:write`.
#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = "groups",
    operation_id = "remove_group_member",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204, description = "Not in the group")))]
async fn remove_member(
    State(state): State<AppState>,
    key: KeyActor,
    ApiPath(path): ApiPath<GroupMemberPath>,
) -> Result<StatusCode, AppError> {
    let actor = key.require(Scope::GroupsWrite)?;
    server::remove_member(&state, actor, path.id, path.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(add_member, remove_member))
}
