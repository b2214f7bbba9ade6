//! Server functions of groups. Each resolves the acting member with `org_actor` (404 for
//! another organization, 403 two_factor_required under the 2FA policy) and asks the service,
//! which asks the policy module.

// A server function's arguments are its form's fields: the New group form has many.
#![allow(clippy::too_many_arguments)]

use super::model::{GroupDetail, GroupMember, GroupsPage};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server::{self, GroupName, NewGroup},
    crate::auth::server::org_actor,
    crate::integrations::model::Kind,
    crate::integrations::server::IntegrationInput,
    crate::state::from_context as state,
};

#[server(endpoint = "groups/list")]
pub async fn list_groups(
    org_id: i64,
    q: Option<String>,
    after: Option<String>,
) -> Result<GroupsPage, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let after = after
        .filter(|a| !a.is_empty())
        .map(|c| server::decode_cursor(&c))
        .transpose()?;
    server::page(&state, &actor, q.as_deref(), after, server::PAGE_SIZE).await
}

/// Type-ahead for picking members: up to 10 members matching `q`.
#[server(endpoint = "groups/member_suggestions")]
pub async fn member_suggestions(org_id: i64, q: String) -> Result<Vec<GroupMember>, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::suggestions(&state, &actor, &q).await
}

#[cfg(feature = "ssr")]
fn parse_ids(raw: Option<&str>) -> Result<Vec<i64>, AppError> {
    let mut ids = raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| AppError::invalid("members", "Pick members from the list."))
        })
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 1000 {
        return Err(AppError::invalid(
            "members",
            "Add at most 1,000 members at once.",
        ));
    }
    Ok(ids)
}

/// **New group** → Name, Description, Concurrent scans limit, Integrations, Members → **Create**.
#[server(endpoint = "groups/create")]
pub async fn create_group(
    org_id: i64,
    name: String,
    description: Option<String>,
    scans_limit: String,
    member_ids: Option<String>,
    webhook_enabled: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    slack_enabled: Option<String>,
    slack_url: Option<String>,
    email_enabled: Option<String>,
    email_recipients: Option<String>,
) -> Result<i64, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    crate::policy::authorize(actor.role, crate::policy::Action::CreateDeleteGroups)?;
    let plan = server::plan_of(&state, org_id).await?;
    let group = NewGroup {
        name: GroupName::parse(&name)?,
        description: server::parse_description(description.as_deref().unwrap_or_default())?,
        scans_limit: server::parse_scans_limit(&scans_limit, plan)?,
        member_ids: parse_ids(member_ids.as_deref())?,
        integrations: vec![
            IntegrationInput::parse(
                Kind::Webhook,
                webhook_enabled.is_some(),
                webhook_url.as_deref(),
                webhook_secret.as_deref(),
                None,
            )?,
            IntegrationInput::parse(
                Kind::Slack,
                slack_enabled.is_some(),
                slack_url.as_deref(),
                None,
                None,
            )?,
            IntegrationInput::parse(
                Kind::Email,
                email_enabled.is_some(),
                None,
                None,
                email_recipients.as_deref(),
            )?,
        ],
    };
    let id = server::create(&state, &actor, group).await?.id;
    leptos_axum::redirect(&format!("/groups/{id}"));
    Ok(id)
}

#[server(endpoint = "groups/get")]
pub async fn get_group(org_id: i64, group_id: i64) -> Result<GroupDetail, AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::detail(&state, &actor, group_id).await
}

#[server(endpoint = "groups/update")]
pub async fn update_group(
    org_id: i64,
    group_id: i64,
    name: String,
    description: Option<String>,
    scans_limit: String,
) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    let plan = server::plan_of(&state, org_id).await?;
    let name = GroupName::parse(&name)?;
    let description = server::parse_description(description.as_deref().unwrap_or_default())?;
    let limit = server::parse_scans_limit(&scans_limit, plan)?;
    server::update(&state, &actor, group_id, name, description, limit).await
}

#[server(endpoint = "groups/members/add")]
pub async fn add_group_member(org_id: i64, group_id: i64, user_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::add_member(&state, &actor, group_id, user_id).await
}

#[server(endpoint = "groups/members/remove")]
pub async fn remove_group_member(org_id: i64, group_id: i64, user_id: i64) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::remove_member(&state, &actor, group_id, user_id).await
}

#[server(endpoint = "groups/delete")]
pub async fn delete_group(org_id: i64, group_id: i64, confirm: String) -> Result<(), AppError> {
    let state = state()?;
    let actor = org_actor(&state, org_id).await?;
    server::delete(&state, &actor, group_id, &confirm).await?;
    leptos_axum::redirect("/groups");
    Ok(())
}
