//! SQL and rules of groups. Every function takes the acting member and asks the policy
//! module; a group of another organization is "not found".

use super::access::{authorize_edit, group_name, refuse_if_provisioned};
use super::model::{
    GroupDetail, GroupMember, GroupRow, GroupsPage, MEMBERS_SHOWN, SCANS_LIMIT_MAX,
};
use crate::auth::server::Actor;
use crate::billing::model::Plan;
use crate::error::AppError;
use crate::integrations::server as integrations;
use crate::policy::{allows, authorize, Action};
use crate::state::AppState;

pub const PAGE_SIZE: i64 = 50;

/// A group name: 1–100 characters, trimmed.
pub struct GroupName(String);

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        match name.chars().count() {
            0 => Err(AppError::invalid("name", "Enter a name for the group.")),
            1..=100 => Ok(Self(name.to_string())),
            _ => Err(AppError::invalid("name", "Use at most 100 characters.")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Names are unique per organization regardless of case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

pub fn parse_description(raw: &str) -> Result<String, AppError> {
    let text = raw.trim();
    if text.chars().count() > 1000 {
        return Err(AppError::invalid(
            "description",
            "Use at most 1,000 characters.",
        ));
    }
    Ok(text.to_string())
}

/// The limit: a whole number from 1 to 1,000, and at most what the plan allows.
pub fn parse_scans_limit(raw: &str, plan: Plan) -> Result<i64, AppError> {
    let max = plan.max_scans_limit().min(SCANS_LIMIT_MAX);
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        // Well-formed, but more than this organization's plan allows: a conflict with its
        // state (a higher plan accepts it).
        Ok(n) if (1..=SCANS_LIMIT_MAX).contains(&n) => Err(AppError::conflict(
            "scans_limit",
            format!(
                "The {} plan allows at most {max} concurrent scans per group.",
                plan.label()
            ),
        )),
        _ => Err(AppError::invalid(
            "scans_limit",
            format!("The concurrent scans limit is a whole number from 1 to {max}."),
        )),
    }
}

pub async fn plan_of(state: &AppState, org_id: i64) -> Result<Plan, AppError> {
    let (plan,): (String,) = sqlx::query_as("SELECT plan FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(&state.db.pool)
        .await?;
    Plan::parse(&plan).map_err(|_| AppError::Internal)
}

pub async fn page(
    state: &AppState,
    actor: &Actor,
    search: Option<&str>,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<GroupsPage, AppError> {
    authorize(actor.role, Action::ViewMembers)?;
    let (after_key, after_id) = after.unwrap_or_default();
    let pattern = crate::db::contains_pattern(search);
    let rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT g.id, g.name, g.name_key, g.description, g.scans_limit,
                (SELECT COUNT(*) FROM group_members gm WHERE gm.group_id = g.id)
         FROM groups g
         WHERE g.org_id = $1 AND (g.name_key, g.id) > ($2, $3)
           AND ($4 IS NULL OR g.name_key LIKE $4 ESCAPE '\\')
         ORDER BY g.name_key, g.id LIMIT $5",
    )
    .bind(actor.org_id)
    .bind(&after_key)
    .bind(after_id)
    .bind(pattern)
    .bind(limit + 1)
    .fetch_all(&state.db.pool)
    .await?;
    let has_more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = has_more
        .then(|| rows.last().map(|r| format!("{}:{}", r.0, r.2)))
        .flatten();
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let on = integrations::enabled_kinds(state, &ids).await?;
    let groups = rows
        .into_iter()
        .map(
            |(id, name, _, description, scans_limit, member_count)| GroupRow {
                integrations_on: on
                    .iter()
                    .filter(|(g, _)| *g == id)
                    .map(|(_, kind)| kind.clone())
                    .collect(),
                id,
                name,
                description,
                member_count,
                scans_limit,
            },
        )
        .collect();
    Ok(GroupsPage {
        groups,
        next_cursor,
        can_create: allows(actor.role, Action::CreateDeleteGroups),
        max_scans_limit: plan_of(state, actor.org_id).await?.max_scans_limit(),
    })
}

pub fn decode_cursor(cursor: &str) -> Result<(String, i64), AppError> {
    cursor
        .split_once(':')
        .and_then(|(id, key)| Some((key.to_string(), id.parse::<i64>().ok()?)))
        .ok_or_else(|| AppError::invalid("after", "That page link is not valid."))
}

/// Members of the organization matching `q` (see [`crate::members::search`]): the
/// type-ahead of the group forms (10 at most; never the whole organization).
pub async fn suggestions(
    state: &AppState,
    actor: &Actor,
    q: &str,
) -> Result<Vec<GroupMember>, AppError> {
    authorize(actor.role, Action::ViewMembers)?;
    let Some(term) = crate::members::search::Term::parse(Some(q)) else {
        return Ok(Vec::new());
    };
    let stats = state.search_stats.current(&state.db);
    let clauses = crate::members::search::clauses(state.db.backend, Some(&term), stats.as_deref());
    let params: Vec<crate::db::Param> = vec![actor.org_id.into(), "".into(), 0.into(), 10.into()];
    let sql = format!(
        "SELECT u.id, u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id {}
         WHERE m.org_id = $1 AND {} ORDER BY {} LIMIT $4",
        clauses.join, clauses.condition, clauses.order
    );
    let rows = clauses.read(&state.db, &sql, params).await?;
    rows.iter()
        .map(|r| {
            Ok(GroupMember {
                user_id: r.i64(0)?,
                name: r.text(1)?,
                email: r.text(2)?,
            })
        })
        .collect()
}

pub struct NewGroup {
    pub name: GroupName,
    pub description: String,
    pub scans_limit: i64,
    pub member_ids: Vec<i64>,
    pub integrations: Vec<integrations::IntegrationInput>,
}

/// Creates the group; answers it as [`detail`] reads it, read before the commit.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    group: NewGroup,
) -> Result<GroupDetail, AppError> {
    authorize(actor.role, Action::CreateDeleteGroups)?;
    integrations::check_destinations(state, &group.integrations).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO groups (org_id, name, name_key, description, scans_limit, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(actor.org_id)
    .bind(group.name.as_str())
    .bind(group.name.key())
    .bind(&group.description)
    .bind(group.scans_limit)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let group_id = match inserted {
        Ok((id,)) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(AppError::conflict(
                "name",
                "A group with this name exists already.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    for user_id in &group.member_ids {
        insert_member(&mut tx, actor.org_id, group_id, *user_id, now).await?;
    }
    for input in &group.integrations {
        integrations::save(state, &mut tx, group_id, input).await?;
    }
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("group.created", format!("group:{group_id}"))
            .details(serde_json::json!({
                "name": group.name.as_str(),
                "scans_limit": group.scans_limit,
                "members": group.member_ids.len(),
            })),
    )
    .await?;
    let detail = detail_on(&mut tx, actor, group_id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// Adds an organization member to the group; anyone else is "not found".
async fn insert_member(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    group_id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, AppError> {
    if crate::orgs::store::membership(&mut *tx, org_id, user_id)
        .await?
        .is_none()
    {
        return Err(AppError::conflict(
            "members",
            "Only members of the organization can join its groups.",
        ));
    }
    let done = sqlx::query(
        "INSERT INTO group_members (group_id, org_id, user_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_id, user_id) DO NOTHING",
    )
    .bind(group_id)
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn detail(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
) -> Result<GroupDetail, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    detail_on(&mut conn, actor, group_id).await
}

/// [`detail`] on a given connection: inside the transaction that made the change, a change's
/// answer is read before it commits, so a committed change is never answered with an error.
async fn detail_on(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    group_id: i64,
) -> Result<GroupDetail, AppError> {
    authorize(actor.role, Action::ViewMembers)?;
    let row: Option<(String, String, i64, String, i64)> = sqlx::query_as(
        "SELECT g.name, g.description, g.scans_limit, o.plan, g.scim_managed FROM groups g
         JOIN organizations o ON o.id = g.org_id WHERE g.id = $1 AND g.org_id = $2",
    )
    .bind(group_id)
    .bind(actor.org_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (name, description, scans_limit, plan, scim_managed) = row.ok_or(AppError::NotFound)?;
    let (member_count, member_of_group): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN user_id = $2 THEN 1 ELSE 0 END), 0)
         FROM group_members WHERE group_id = $1",
    )
    .bind(group_id)
    .bind(actor.user_id)
    .fetch_one(&mut *conn)
    .await?;
    let members: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT u.id, u.name, u.email FROM group_members gm
         JOIN memberships m ON m.org_id = gm.org_id AND m.user_id = gm.user_id
         JOIN users u ON u.id = gm.user_id
         WHERE gm.group_id = $1 ORDER BY m.member_name, u.id LIMIT $2",
    )
    .bind(group_id)
    .bind(MEMBERS_SHOWN)
    .fetch_all(&mut *conn)
    .await?;
    let plan = Plan::parse(&plan).map_err(|_| AppError::Internal)?;
    Ok(GroupDetail {
        id: group_id,
        name,
        description,
        scans_limit,
        max_scans_limit: plan.max_scans_limit(),
        member_count,
        members: members
            .into_iter()
            .map(|(user_id, name, email)| GroupMember {
                user_id,
                name,
                email,
            })
            .collect(),
        can_edit: allows(
            actor.role,
            Action::EditGroup {
                member_of_group: member_of_group > 0,
            },
        ),
        can_delete: allows(actor.role, Action::CreateDeleteGroups) && scim_managed == 0,
        provisioned: scim_managed == 1,
    })
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    name: GroupName,
    description: String,
    scans_limit: i64,
) -> Result<(), AppError> {
    let current = authorize_edit(state, actor, group_id).await?;
    if name.as_str() != current {
        refuse_if_provisioned(state, actor, group_id, "name").await?;
    }
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE groups SET name = $1, name_key = $2, description = $3, scans_limit = $4
         WHERE id = $5 AND org_id = $6",
    )
    .bind(name.as_str())
    .bind(name.key())
    .bind(&description)
    .bind(scans_limit)
    .bind(group_id)
    .bind(actor.org_id)
    .execute(&mut *tx)
    .await;
    match done {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(AppError::conflict(
                "name",
                "A group with this name exists already.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let details = serde_json::json!({
        "name": name.as_str(),
        "description": description,
        "scans_limit": scans_limit,
    });
    integrations::enqueue(
        state,
        &mut tx,
        group_id,
        "group.settings_changed",
        details.clone(),
    )
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("group.updated", format!("group:{group_id}"))
            .details(details),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_member(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    user_id: i64,
) -> Result<(), AppError> {
    let group = authorize_edit(state, actor, group_id).await?;
    refuse_if_provisioned(state, actor, group_id, "members").await?;
    let mut tx = state.db.begin().await?;
    let added = insert_member(&mut tx, actor.org_id, group_id, user_id, state.now()).await?;
    if added {
        let payload = member_payload(&mut tx, &group, user_id).await?;
        integrations::enqueue(state, &mut tx, group_id, "group.member_added", payload).await?;
        crate::audit::record(
            &mut tx,
            state,
            actor
                .event("group.member_added", format!("group:{group_id}"))
                .details(serde_json::json!({ "user_id": user_id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn remove_member(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    user_id: i64,
) -> Result<(), AppError> {
    let group = authorize_edit(state, actor, group_id).await?;
    refuse_if_provisioned(state, actor, group_id, "members").await?;
    let mut tx = state.db.begin().await?;
    let payload = member_payload(&mut tx, &group, user_id).await?;
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    integrations::enqueue(state, &mut tx, group_id, "group.member_removed", payload).await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("group.member_removed", format!("group:{group_id}"))
            .details(serde_json::json!({ "user_id": user_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn member_payload(
    tx: &mut sqlx::AnyConnection,
    group: &str,
    user_id: i64,
) -> Result<serde_json::Value, AppError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT name, email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (name, email) = row.unwrap_or_default();
    Ok(serde_json::json!({
        "group": group,
        "member": { "id": user_id, "name": name, "email": email },
    }))
}

/// Deletes the group (Owner/Admin); the caller types its name to confirm.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    group_id: i64,
    confirm: &str,
) -> Result<(), AppError> {
    authorize(actor.role, Action::CreateDeleteGroups)?;
    let name = group_name(state, actor, group_id).await?;
    refuse_if_provisioned(state, actor, group_id, "confirm").await?;
    if confirm.trim() != name {
        return Err(AppError::invalid(
            "confirm",
            "Type the group's name exactly to confirm.",
        ));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM groups WHERE id = $1 AND org_id = $2")
        .bind(group_id)
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("group.deleted", format!("group:{group_id}"))
            .details(serde_json::json!({ "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
