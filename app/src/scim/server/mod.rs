//! The SCIM service: a provider's token acts on one organization's members and groups.
//!
//! - A User is a membership of the organization (every member is listed, so a provider can
//!   match the people who are here already). `userName` is the email, in one of the
//!   organization's verified domains; a new person gets an account without a password that
//!   signs in through the organization's provider.
//! - `active: false` moves the membership out of `memberships` (into `scim_users`): every
//!   door that asks whether someone is a member (pages, server functions, REST, the key
//!   check and its cache's triggers) answers no from the next request on, with no door of its
//!   own to forget. `active: true` moves it back, with its groups.
//! - A Group is a group the provider made ("managed by provisioning"); groups made in
//!   Gatehouse are not the provider's to see or change.
//! - What a token may do is the policy module's ([`Provisioning`]); every change is audited
//!   with the actor "SCIM (token name)".

pub mod discovery;
pub mod error;
pub mod filter;
pub mod patch;
pub mod resource;
pub mod tokens;

use crate::auth::server::password::NO_PASSWORD;
use crate::domain::{DomainName, Email, PersonName, Role};
use crate::error::AppError;
use crate::orgs::store::{lock_org, role_of};
use crate::policy::{provisioning_allows, Provisioning};
use crate::state::AppState;
use resource::{GroupInput, GroupRecord, UserInput, UserRecord, LIST_SCHEMA};
use serde_json::{json, Value};

pub use error::ScimError;

/// The largest page a list answers (`count`), as ServiceProviderConfig says.
pub const MAX_RESULTS: i64 = 200;
const DEFAULT_COUNT: i64 = 100;
/// The concurrent scans limit of a group the provider makes (an admin raises it).
const PROVISIONED_SCANS_LIMIT: i64 = 1;

fn authorize(action: Provisioning) -> Result<(), ScimError> {
    if provisioning_allows(action) {
        Ok(())
    } else {
        Err(ScimError::forbidden(match action {
            Provisioning::ManageGroup { .. } => {
                "This group was made in Gatehouse, not by provisioning: the provider cannot change it."
            }
            _ => "Provisioning does not change, suspend or remove an Owner: do that in Gatehouse.",
        }))
    }
}

/// The token a request came with, and where from.
#[derive(Debug, Clone)]
pub struct ScimActor {
    pub token_id: i64,
    pub org_id: i64,
    pub token_name: String,
    pub ip: Option<String>,
}

impl ScimActor {
    /// An audit event by this token: no person, the token's name in the details.
    pub fn event(
        &self,
        action: &'static str,
        target: impl Into<String>,
        mut details: Value,
    ) -> crate::audit::Event {
        if !details.is_object() {
            details = json!({});
        }
        details["scim_token"] = json!(self.token_name);
        crate::audit::Event::new(action, target)
            .org(self.org_id)
            .ip(self.ip.clone())
            .details(details)
    }
}

pub fn base_url(state: &AppState) -> String {
    format!("{}/scim/v2", state.base_url())
}

/// `startIndex` (1-based) and `count` of a list, clamped as RFC 7644 §3.4.2.4 says.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<filter::Filter>,
    pub start_index: i64,
    pub count: i64,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl ListQuery {
    pub fn parse(
        filter: Option<&str>,
        start_index: Option<&str>,
        count: Option<&str>,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let number = |raw: Option<&str>, name: &str, default: i64| -> Result<i64, ScimError> {
            match raw.map(str::trim).filter(|r| !r.is_empty()) {
                None => Ok(default),
                Some(raw) => raw.parse::<i64>().map_err(|_| {
                    ScimError::bad_request(
                        "invalidValue",
                        format!("{name} must be a whole number."),
                    )
                }),
            }
        };
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(text) => Some(
                filter::parse(text).map_err(|e| ScimError::bad_request("invalidFilter", e.0))?,
            ),
        };
        Ok(Self {
            filter,
            start_index: number(start_index, "startIndex", 1)?.max(1),
            count: number(count, "count", DEFAULT_COUNT)?.clamp(0, MAX_RESULTS),
            attributes: resource::attribute_list(attributes),
            excluded: resource::attribute_list(excluded),
        })
    }

    /// The list response of the page this query asks for, out of every matching resource.
    fn page(&self, matched: Vec<Value>) -> Value {
        let total = matched.len() as i64;
        let page = matched
            .into_iter()
            .skip((self.start_index - 1) as usize)
            .take(self.count as usize)
            .map(|json| resource::project(json, &self.attributes, &self.excluded))
            .collect();
        list_response(total, self.start_index, page)
    }

    fn wants_members(&self) -> bool {
        let named = |list: &[String]| {
            list.iter()
                .any(|a| a == "members" || a.starts_with("members."))
        };
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !named(&self.excluded)
    }
}

fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn parse_id(raw: &str, what: &str) -> Result<i64, ScimError> {
    raw.parse::<i64>().map_err(|_| ScimError::not_found(what))
}

// ---- Users ----------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    name: String,
    role: Option<String>,
    member_since: Option<i64>,
    suspended_role: Option<String>,
    external_id: Option<String>,
    display_name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    provisioned_at: Option<i64>,
    updated_at: Option<i64>,
}

const USER_SELECT: &str = "SELECT u.id, u.email, u.name, m.role, m.created_at AS member_since,
        s.suspended_role, s.external_id, s.display_name, s.given_name, s.family_name,
        s.created_at AS provisioned_at, s.updated_at
    FROM users u
    LEFT JOIN memberships m ON m.org_id = $1 AND m.user_id = u.id
    LEFT JOIN scim_users s ON s.org_id = $1 AND s.user_id = u.id
    WHERE u.id = $2 AND (m.user_id IS NOT NULL OR s.suspended_at IS NOT NULL)";

/// A member or suspended provisioned member of `org_id`, with their groups.
async fn read_user(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    user_id: i64,
) -> Result<Option<UserRecord>, ScimError> {
    let row: Option<UserRow> = sqlx::query_as(USER_SELECT)
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let groups: Vec<(i64, String)> = if row.role.is_some() {
        sqlx::query_as(
            "SELECT g.id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
             WHERE gm.org_id = $1 AND gm.user_id = $2 ORDER BY g.id",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    let created_at = row.provisioned_at.or(row.member_since).unwrap_or_default();
    Ok(Some(UserRecord {
        user_id: row.id,
        email: row.email,
        account_name: row.name,
        role: row.role.as_deref().map(role_of).transpose()?,
        suspended_role: row.suspended_role.as_deref().map(role_of).transpose()?,
        external_id: row.external_id,
        display_name: row.display_name,
        given_name: row.given_name,
        family_name: row.family_name,
        created_at,
        updated_at: row.updated_at.unwrap_or(created_at),
        groups,
    }))
}

/// The ids an indexed equality finds (members and suspended provisioned members only are
/// kept by [`read_user`]).
async fn user_ids_for(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    attr: &str,
    value: &str,
) -> Result<Vec<i64>, ScimError> {
    let ids: Vec<(i64,)> = match attr {
        "id" => match value.parse::<i64>() {
            Ok(id) => vec![(id,)],
            Err(_) => Vec::new(),
        },
        "username" | "emails" => {
            sqlx::query_as("SELECT id FROM users WHERE email_normalized = $1")
                .bind(value.trim().to_lowercase())
                .fetch_all(&mut *conn)
                .await?
        }
        "externalid" => {
            sqlx::query_as("SELECT user_id FROM scim_users WHERE org_id = $1 AND external_id = $2")
                .bind(org_id)
                .bind(value)
                .fetch_all(&mut *conn)
                .await?
        }
        _ => return Err(AppError::Internal.into()),
    };
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

const ALL_USER_IDS: &str = "SELECT user_id FROM memberships WHERE org_id = $1
     UNION SELECT user_id FROM scim_users WHERE org_id = $1 AND suspended_at IS NOT NULL
     ORDER BY 1";

pub async fn list_users(
    state: &AppState,
    actor: &ScimActor,
    query: &ListQuery,
) -> Result<Value, ScimError> {
    authorize(Provisioning::ReadDirectory)?;
    let base = base_url(state);
    let mut conn = state.db.pool.acquire().await?;
    let seeds = query.filter.as_ref().and_then(|f| {
        f.seeds().filter(|seeds| {
            seeds.iter().all(|(attr, _)| {
                matches!(attr.as_str(), "id" | "username" | "emails" | "externalid")
            })
        })
    });
    let Some(filter) = &query.filter else {
        // No filter: the page straight from the database.
        let (total,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE org_id = $1)
                  + (SELECT COUNT(*) FROM scim_users WHERE org_id = $1 AND suspended_at IS NOT NULL)",
        )
        .bind(actor.org_id)
        .fetch_one(&mut *conn)
        .await?;
        let ids: Vec<(i64,)> = sqlx::query_as(&format!("{ALL_USER_IDS} LIMIT $2 OFFSET $3"))
            .bind(actor.org_id)
            .bind(query.count)
            .bind(query.start_index - 1)
            .fetch_all(&mut *conn)
            .await?;
        let mut resources = Vec::with_capacity(ids.len());
        for (id,) in ids {
            if let Some(user) = read_user(&mut conn, actor.org_id, id).await? {
                resources.push(resource::project(
                    user.to_json(&base),
                    &query.attributes,
                    &query.excluded,
                ));
            }
        }
        return Ok(list_response(total, query.start_index, resources));
    };
    let mut ids = match seeds {
        Some(seeds) => {
            let mut ids = Vec::new();
            for (attr, value) in seeds {
                ids.extend(user_ids_for(&mut conn, actor.org_id, &attr, &value).await?);
            }
            ids
        }
        None => {
            let all: Vec<(i64,)> = sqlx::query_as(ALL_USER_IDS)
                .bind(actor.org_id)
                .fetch_all(&mut *conn)
                .await?;
            all.into_iter().map(|(id,)| id).collect()
        }
    };
    ids.sort_unstable();
    ids.dedup();
    let mut matched = Vec::new();
    for id in ids {
        if let Some(user) = read_user(&mut conn, actor.org_id, id).await? {
            let json = user.to_json(&base);
            if filter.matches(&json) {
                matched.push(json);
            }
        }
    }
    Ok(query.page(matched))
}

pub async fn get_user(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
) -> Result<Value, ScimError> {
    authorize(Provisioning::ReadDirectory)?;
    let id = parse_id(raw_id, "User")?;
    let mut conn = state.db.pool.acquire().await?;
    let user = read_user(&mut conn, actor.org_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))?;
    Ok(user.to_json(&base_url(state)))
}

async fn default_role(conn: &mut sqlx::AnyConnection, org_id: i64) -> Result<Role, ScimError> {
    let (raw,): (String,) =
        sqlx::query_as("SELECT scim_default_role FROM organizations WHERE id = $1")
            .bind(org_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(role_of(&raw)?)
}

async fn check_seat(tx: &mut sqlx::AnyConnection, org_id: i64, now: i64) -> Result<(), ScimError> {
    match crate::invitations::server::check_seat_free(tx, org_id, now, "userName").await {
        Ok(()) => Ok(()),
        Err(AppError::Conflict { message, .. }) => Err(ScimError::forbidden(message)),
        Err(other) => Err(other.into()),
    }
}

fn email_of(input: &UserInput) -> Result<Email, ScimError> {
    Email::parse(&input.user_name).map_err(|_| {
        ScimError::bad_request(
            "invalidValue",
            format!("userName \"{}\" is not an email address.", input.user_name),
        )
    })
}

async fn check_verified_domain(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    email: &Email,
) -> Result<(), ScimError> {
    let domain = DomainName::of_email(email).ok_or_else(|| {
        ScimError::bad_request(
            "invalidValue",
            "userName has no domain Gatehouse can verify.",
        )
    })?;
    let verified: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM org_domains WHERE org_id = $1 AND domain = $2 AND verified_at IS NOT NULL",
    )
    .bind(org_id)
    .bind(domain.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if verified.is_none() {
        return Err(ScimError::bad_request(
            "invalidValue",
            format!(
                "{domain} is not a verified domain of this organization: verify it in \
                 Organization settings → Domains before provisioning its people."
            ),
        ));
    }
    Ok(())
}

async fn check_external_id_free(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    external_id: Option<&str>,
    user_id: Option<i64>,
) -> Result<(), ScimError> {
    let Some(external_id) = external_id else {
        return Ok(());
    };
    let holder: Option<(i64,)> =
        sqlx::query_as("SELECT user_id FROM scim_users WHERE org_id = $1 AND external_id = $2")
            .bind(org_id)
            .bind(external_id)
            .fetch_optional(&mut *tx)
            .await?;
    match holder {
        Some((holder,)) if Some(holder) != user_id => Err(ScimError::uniqueness(format!(
            "Another User of this organization has externalId \"{external_id}\"."
        ))),
        _ => Ok(()),
    }
}

/// Writes the provider's attributes of a member (the row that marks them provisioned).
async fn save_attributes(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    user_id: i64,
    input: &UserInput,
    created_account: bool,
    now: i64,
) -> Result<(), ScimError> {
    let updated = sqlx::query(
        "UPDATE scim_users SET external_id = $1, display_name = $2, given_name = $3,
                family_name = $4, updated_at = $5
         WHERE org_id = $6 AND user_id = $7",
    )
    .bind(&input.external_id)
    .bind(&input.display_name)
    .bind(&input.given_name)
    .bind(&input.family_name)
    .bind(now)
    .bind(org_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO scim_users (org_id, user_id, external_id, display_name, given_name,
                                     family_name, created_account, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(&input.external_id)
        .bind(&input.display_name)
        .bind(&input.given_name)
        .bind(&input.family_name)
        .bind(i64::from(created_account))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn create_user(
    state: &AppState,
    actor: &ScimActor,
    body: &Value,
) -> Result<Value, ScimError> {
    let input = UserInput::parse(body)?;
    let email = email_of(&input)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let role = match input.role {
        Some(role) => role,
        None => default_role(&mut tx, actor.org_id).await?,
    };
    authorize(Provisioning::AddMember { role })?;
    check_verified_domain(&mut tx, actor.org_id, &email).await?;
    let existing: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM users WHERE email_normalized = $1")
            .bind(email.normalized())
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((user_id,)) = existing {
        if read_user(&mut tx, actor.org_id, user_id).await?.is_some() {
            return Err(ScimError::uniqueness(format!(
                "{} is a User of this organization already (id {user_id}).",
                email.as_str()
            )));
        }
    }
    check_external_id_free(&mut tx, actor.org_id, input.external_id.as_deref(), None).await?;
    check_seat(&mut tx, actor.org_id, now).await?;
    let (user_id, created_account) = match existing {
        Some((user_id,)) => {
            // A row left from a membership removed in Gatehouse: provisioning starts over.
            sqlx::query("DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2")
                .bind(actor.org_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            (user_id, false)
        }
        None => {
            let local = email.as_str().split('@').next().unwrap_or("member");
            let name = input
                .person_name()
                .and_then(|n| PersonName::parse(&n).ok())
                .or_else(|| PersonName::parse(local).ok())
                .ok_or_else(|| ScimError::bad_request("invalidValue", "Give the User a name."))?;
            let user_id = crate::auth::server::store::insert_user(
                &mut tx,
                &name,
                &email,
                NO_PASSWORD,
                now,
                "An account with this email exists.",
            )
            .await?;
            (user_id, true)
        }
    };
    crate::invitations::server::add_member(&mut tx, actor.org_id, user_id, role, now).await?;
    save_attributes(&mut tx, actor.org_id, user_id, &input, created_account, now).await?;
    crate::audit::record(
        &mut tx,
        state,
        actor.event(
            "member.provisioned",
            format!("user:{user_id}"),
            json!({"email": email.as_str(), "role": role.as_str(), "new_account": created_account}),
        ),
    )
    .await?;
    if !input.active {
        suspend(&mut tx, state, actor, user_id, role, now).await?;
    }
    let user = read_user(&mut tx, actor.org_id, user_id)
        .await?
        .ok_or(AppError::Internal)?;
    tx.commit().await?;
    Ok(user.to_json(&base_url(state)))
}

/// Moves the membership out (see the module's comment): sessions and keys of this person
/// stop reaching the organization with the commit.
async fn suspend(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    actor: &ScimActor,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<(), ScimError> {
    authorize(Provisioning::Suspend { role })?;
    let groups: Vec<(i64,)> =
        sqlx::query_as("SELECT group_id FROM group_members WHERE org_id = $1 AND user_id = $2")
            .bind(actor.org_id)
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
    let groups = groups
        .iter()
        .map(|(id,)| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE scim_users SET suspended_at = $1, suspended_role = $2, suspended_groups = $3,
                updated_at = $1
         WHERE org_id = $4 AND user_id = $5",
    )
    .bind(now)
    .bind(role.as_str())
    .bind(&groups)
    .bind(actor.org_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        tx,
        state,
        actor.event(
            "member.suspended",
            format!("user:{user_id}"),
            json!({"role": role.as_str()}),
        ),
    )
    .await?;
    Ok(())
}

async fn restore(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    actor: &ScimActor,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<(), ScimError> {
    authorize(Provisioning::Restore { role })?;
    check_seat(tx, actor.org_id, now).await?;
    let (groups,): (String,) = sqlx::query_as(
        "SELECT suspended_groups FROM scim_users WHERE org_id = $1 AND user_id = $2",
    )
    .bind(actor.org_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    crate::invitations::server::add_member(tx, actor.org_id, user_id, role, now).await?;
    for group_id in groups.split(',').filter_map(|id| id.parse::<i64>().ok()) {
        sqlx::query(
            "INSERT INTO group_members (group_id, org_id, user_id, created_at)
             SELECT id, org_id, $3, $4 FROM groups WHERE id = $1 AND org_id = $2
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group_id)
        .bind(actor.org_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE scim_users SET suspended_at = NULL, suspended_role = NULL, suspended_groups = '',
                updated_at = $1
         WHERE org_id = $2 AND user_id = $3",
    )
    .bind(now)
    .bind(actor.org_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        tx,
        state,
        actor.event(
            "member.restored",
            format!("user:{user_id}"),
            json!({"role": role.as_str()}),
        ),
    )
    .await?;
    Ok(())
}

/// A replace (PUT, or a PATCH once applied): the provider's attributes, the role when it
/// sends one, and `active`.
async fn replace_user_in(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    actor: &ScimActor,
    current: &UserRecord,
    input: &UserInput,
) -> Result<(), ScimError> {
    let now = state.now();
    let user_id = current.user_id;
    if input.user_name.trim().to_lowercase() != current.email.to_lowercase() {
        return Err(ScimError::bad_request(
            "mutability",
            "userName is the member's email and cannot change here: remove the User and \
             provision the new address.",
        ));
    }
    check_external_id_free(
        tx,
        actor.org_id,
        input.external_id.as_deref(),
        Some(user_id),
    )
    .await?;
    let role = current.current_role().ok_or(AppError::Internal)?;
    let new_role = input.role.unwrap_or(role);
    if new_role != role {
        authorize(Provisioning::ChangeRole {
            from: role,
            to: new_role,
        })?;
        let table = if current.active() {
            "UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3"
        } else {
            "UPDATE scim_users SET suspended_role = $1 WHERE org_id = $2 AND user_id = $3"
        };
        sqlx::query(table)
            .bind(new_role.as_str())
            .bind(actor.org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        crate::audit::record(
            tx,
            state,
            actor.event(
                "member.role_changed",
                format!("user:{user_id}"),
                json!({"from": role.as_str(), "to": new_role.as_str()}),
            ),
        )
        .await?;
    }
    let attributes_changed = input.external_id != current.external_id
        || input.display_name != current.display_name
        || input.given_name != current.given_name
        || input.family_name != current.family_name;
    save_attributes(tx, actor.org_id, user_id, input, false, now).await?;
    if attributes_changed {
        crate::audit::record(
            tx,
            state,
            actor.event(
                "member.provisioning_updated",
                format!("user:{user_id}"),
                json!({"external_id": input.external_id, "display_name": input.display_name}),
            ),
        )
        .await?;
    }
    match (current.active(), input.active) {
        (true, false) => suspend(tx, state, actor, user_id, new_role, now).await?,
        (false, true) => restore(tx, state, actor, user_id, new_role, now).await?,
        _ => {}
    }
    Ok(())
}

async fn locked_user(
    tx: &mut sqlx::AnyConnection,
    actor: &ScimActor,
    raw_id: &str,
) -> Result<UserRecord, ScimError> {
    let id = parse_id(raw_id, "User")?;
    lock_org(tx, actor.org_id).await?;
    read_user(tx, actor.org_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))
}

pub async fn replace_user(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
    body: &Value,
) -> Result<Value, ScimError> {
    let input = UserInput::parse(body)?;
    let mut tx = state.db.begin().await?;
    let current = locked_user(&mut tx, actor, raw_id).await?;
    replace_user_in(&mut tx, state, actor, &current, &input).await?;
    let user = read_user(&mut tx, actor.org_id, current.user_id)
        .await?
        .ok_or(AppError::Internal)?;
    tx.commit().await?;
    Ok(user.to_json(&base_url(state)))
}

pub async fn patch_user(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
    body: &Value,
) -> Result<Value, ScimError> {
    let operations = patch::parse_operations(body)?;
    let base = base_url(state);
    let mut tx = state.db.begin().await?;
    let current = locked_user(&mut tx, actor, raw_id).await?;
    let mut doc = current.to_json(&base);
    // Roles are the provider's only when it sends them: the current one is not "sent".
    if let Some(doc) = doc.as_object_mut() {
        doc.remove("roles");
    }
    patch::apply(&mut doc, &operations)?;
    let input = UserInput::parse(&doc)?;
    replace_user_in(&mut tx, state, actor, &current, &input).await?;
    let user = read_user(&mut tx, actor.org_id, current.user_id)
        .await?
        .ok_or(AppError::Internal)?;
    tx.commit().await?;
    Ok(user.to_json(&base))
}

/// DELETE: the membership (or the suspended one) goes, with the person's keys for it.
pub async fn delete_user(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
) -> Result<(), ScimError> {
    let mut tx = state.db.begin().await?;
    let current = locked_user(&mut tx, actor, raw_id).await?;
    let role = current.current_role().ok_or(AppError::Internal)?;
    authorize(Provisioning::Remove { role })?;
    let user_id = current.user_id;
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2")
        .bind(actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    crate::api_keys::server::revoke_member_keys(&mut tx, actor.org_id, user_id, state.now())
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor.event(
            "member.deprovisioned",
            format!("user:{user_id}"),
            json!({"email": current.email, "role": role.as_str()}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- Groups ---------------------------------------------------------------------------

async fn read_group(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    group_id: i64,
    with_members: bool,
) -> Result<Option<GroupRecord>, ScimError> {
    let row: Option<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT name, scim_external_id, created_at FROM groups
         WHERE id = $1 AND org_id = $2 AND scim_managed = 1",
    )
    .bind(group_id)
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((name, external_id, created_at)) = row else {
        return Ok(None);
    };
    let members = if with_members {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT gm.user_id, u.name FROM group_members gm JOIN users u ON u.id = gm.user_id
             WHERE gm.group_id = $1 ORDER BY gm.user_id",
        )
        .bind(group_id)
        .fetch_all(&mut *conn)
        .await?;
        Some(rows)
    } else {
        None
    };
    Ok(Some(GroupRecord {
        id: group_id,
        name,
        external_id,
        created_at,
        members,
    }))
}

async fn group_ids_for(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    attr: &str,
    value: &str,
) -> Result<Option<Vec<i64>>, ScimError> {
    let ids: Vec<(i64,)> = match attr {
        "id" => match value.parse::<i64>() {
            Ok(id) => vec![(id,)],
            Err(_) => Vec::new(),
        },
        "displayname" => {
            sqlx::query_as("SELECT id FROM groups WHERE org_id = $1 AND name_key = $2")
                .bind(org_id)
                .bind(value.trim().to_lowercase())
                .fetch_all(&mut *conn)
                .await?
        }
        "externalid" => {
            sqlx::query_as("SELECT id FROM groups WHERE org_id = $1 AND scim_external_id = $2")
                .bind(org_id)
                .bind(value)
                .fetch_all(&mut *conn)
                .await?
        }
        "members" => match value.parse::<i64>() {
            Ok(user_id) => {
                sqlx::query_as(
                    "SELECT group_id FROM group_members WHERE org_id = $1 AND user_id = $2",
                )
                .bind(org_id)
                .bind(user_id)
                .fetch_all(&mut *conn)
                .await?
            }
            Err(_) => Vec::new(),
        },
        _ => return Ok(None),
    };
    Ok(Some(ids.into_iter().map(|(id,)| id).collect()))
}

pub async fn list_groups(
    state: &AppState,
    actor: &ScimActor,
    query: &ListQuery,
) -> Result<Value, ScimError> {
    authorize(Provisioning::ReadDirectory)?;
    let base = base_url(state);
    let mut conn = state.db.pool.acquire().await?;
    // A filter on members needs them read; otherwise only when the answer shows them.
    let read_members = query.wants_members() || query.filter.is_some();
    let mut ids: Option<Vec<i64>> = None;
    if let Some(seeds) = query.filter.as_ref().and_then(filter::Filter::seeds) {
        let mut found = Vec::new();
        let mut all_indexed = true;
        for (attr, value) in seeds {
            match group_ids_for(&mut conn, actor.org_id, &attr, &value).await? {
                Some(more) => found.extend(more),
                None => all_indexed = false,
            }
        }
        if all_indexed {
            ids = Some(found);
        }
    }
    let mut ids = match ids {
        Some(ids) => ids,
        None => {
            let all: Vec<(i64,)> = sqlx::query_as(
                "SELECT id FROM groups WHERE org_id = $1 AND scim_managed = 1 ORDER BY id",
            )
            .bind(actor.org_id)
            .fetch_all(&mut *conn)
            .await?;
            all.into_iter().map(|(id,)| id).collect()
        }
    };
    ids.sort_unstable();
    ids.dedup();
    let mut matched = Vec::new();
    for id in ids {
        if let Some(group) = read_group(&mut conn, actor.org_id, id, read_members).await? {
            let json = group.to_json(&base);
            if query.filter.as_ref().is_none_or(|f| f.matches(&json)) {
                matched.push(json);
            }
        }
    }
    Ok(query.page(matched))
}

pub async fn get_group(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
    query: &ListQuery,
) -> Result<Value, ScimError> {
    authorize(Provisioning::ReadDirectory)?;
    let id = parse_id(raw_id, "Group")?;
    let mut conn = state.db.pool.acquire().await?;
    let group = read_group(&mut conn, actor.org_id, id, query.wants_members())
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    Ok(resource::project(
        group.to_json(&base_url(state)),
        &query.attributes,
        &query.excluded,
    ))
}

fn group_name(input: &GroupInput) -> Result<crate::groups::server::GroupName, ScimError> {
    crate::groups::server::GroupName::parse(&input.display_name)
        .map_err(|e| ScimError::bad_request("invalidValue", format!("displayName: {e}")))
}

fn name_taken(name: &str) -> ScimError {
    ScimError::uniqueness(format!(
        "A group named \"{name}\" exists in this organization."
    ))
}

/// Makes the group's members the given ones: who is not a member of the organization is
/// refused, a suspended member keeps the group for when they come back. One audit event per
/// request, naming who was added and removed: a provider's sync of a large group is one
/// change, not thousands.
async fn set_members(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    actor: &ScimActor,
    group_id: i64,
    group: &str,
    wanted: &[i64],
) -> Result<(), ScimError> {
    let now = state.now();
    let current: Vec<(i64,)> =
        sqlx::query_as("SELECT user_id FROM group_members WHERE group_id = $1")
            .bind(group_id)
            .fetch_all(&mut *tx)
            .await?;
    let current: std::collections::HashSet<i64> = current.into_iter().map(|(id,)| id).collect();
    let wanted_set: std::collections::HashSet<i64> = wanted.iter().copied().collect();
    // Deliveries are queued only for a group with an integration turned on.
    let (integrations,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM group_integrations WHERE group_id = $1 AND enabled = 1",
    )
    .bind(group_id)
    .fetch_one(&mut *tx)
    .await?;
    let mut added = Vec::new();
    for user_id in wanted.iter().filter(|id| !current.contains(id)) {
        let member: Option<(String, String)> = sqlx::query_as(
            "SELECT u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 AND m.user_id = $2",
        )
        .bind(actor.org_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((name, email)) = member else {
            let kept = sqlx::query(
                "UPDATE scim_users SET suspended_groups = CASE WHEN suspended_groups = '' THEN $1
                        ELSE suspended_groups || ',' || $1 END
                 WHERE org_id = $2 AND user_id = $3 AND suspended_at IS NOT NULL",
            )
            .bind(group_id.to_string())
            .bind(actor.org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            if kept.rows_affected() == 0 {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    format!("\"{user_id}\" is not the id of a User of this organization."),
                ));
            }
            continue;
        };
        sqlx::query(
            "INSERT INTO group_members (group_id, org_id, user_id, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group_id)
        .bind(actor.org_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if integrations > 0 {
            let payload =
                json!({"group": group, "member": {"id": user_id, "name": name, "email": email}});
            crate::integrations::server::enqueue(
                state,
                tx,
                group_id,
                "group.member_added",
                payload,
            )
            .await?;
        }
        added.push(*user_id);
    }
    let mut removed = Vec::new();
    let mut leaving: Vec<i64> = current.difference(&wanted_set).copied().collect();
    leaving.sort_unstable();
    for user_id in leaving {
        if integrations > 0 {
            let member: Option<(String, String)> =
                sqlx::query_as("SELECT name, email FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (name, email) = member.unwrap_or_default();
            let payload =
                json!({"group": group, "member": {"id": user_id, "name": name, "email": email}});
            crate::integrations::server::enqueue(
                state,
                tx,
                group_id,
                "group.member_removed",
                payload,
            )
            .await?;
        }
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        removed.push(user_id);
    }
    if !added.is_empty() || !removed.is_empty() {
        crate::audit::record(
            tx,
            state,
            actor.event(
                "group.members_changed",
                format!("group:{group_id}"),
                json!({"added": added, "removed": removed}),
            ),
        )
        .await?;
    }
    Ok(())
}

pub async fn create_group(
    state: &AppState,
    actor: &ScimActor,
    body: &Value,
) -> Result<Value, ScimError> {
    let input = GroupInput::parse(body)?;
    let name = group_name(&input)?;
    authorize(Provisioning::ManageGroup { provisioned: true })?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO groups (org_id, name, name_key, description, scans_limit, created_at,
                             scim_managed, scim_external_id)
         VALUES ($1, $2, $3, '', $4, $5, 1, $6) RETURNING id",
    )
    .bind(actor.org_id)
    .bind(name.as_str())
    .bind(name.key())
    .bind(PROVISIONED_SCANS_LIMIT)
    .bind(now)
    .bind(&input.external_id)
    .fetch_one(&mut *tx)
    .await;
    let group_id = match inserted {
        Ok((id,)) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(match &input.external_id {
                Some(external) if e.message().contains("scim_external") => {
                    ScimError::uniqueness(format!("A group with externalId \"{external}\" exists."))
                }
                _ => name_taken(name.as_str()),
            })
        }
        Err(e) => return Err(e.into()),
    };
    crate::audit::record(
        &mut tx,
        state,
        actor.event(
            "group.created",
            format!("group:{group_id}"),
            json!({"name": name.as_str(), "scans_limit": PROVISIONED_SCANS_LIMIT}),
        ),
    )
    .await?;
    if let Some(members) = &input.members {
        set_members(&mut tx, state, actor, group_id, name.as_str(), members).await?;
    }
    let group = read_group(&mut tx, actor.org_id, group_id, true)
        .await?
        .ok_or(AppError::Internal)?;
    tx.commit().await?;
    Ok(group.to_json(&base_url(state)))
}

/// The group if it is this organization's: one the provider does not manage is refused by
/// the policy, one of another organization is not found.
async fn locked_group(
    tx: &mut sqlx::AnyConnection,
    actor: &ScimActor,
    raw_id: &str,
) -> Result<GroupRecord, ScimError> {
    let id = parse_id(raw_id, "Group")?;
    lock_org(tx, actor.org_id).await?;
    let managed: Option<(i64,)> =
        sqlx::query_as("SELECT scim_managed FROM groups WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(actor.org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (managed,) = managed.ok_or_else(|| ScimError::not_found("Group"))?;
    authorize(Provisioning::ManageGroup {
        provisioned: managed == 1,
    })?;
    read_group(tx, actor.org_id, id, true)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))
}

async fn replace_group_in(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    actor: &ScimActor,
    current: &GroupRecord,
    input: &GroupInput,
) -> Result<(), ScimError> {
    let name = group_name(input)?;
    if name.as_str() != current.name || input.external_id != current.external_id {
        let done = sqlx::query(
            "UPDATE groups SET name = $1, name_key = $2, scim_external_id = $3
             WHERE id = $4 AND org_id = $5",
        )
        .bind(name.as_str())
        .bind(name.key())
        .bind(&input.external_id)
        .bind(current.id)
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await;
        match done {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(name_taken(name.as_str()))
            }
            Err(e) => return Err(e.into()),
        }
        crate::audit::record(
            tx,
            state,
            actor.event(
                "group.updated",
                format!("group:{}", current.id),
                json!({"name": name.as_str(), "external_id": input.external_id}),
            ),
        )
        .await?;
    }
    if let Some(members) = &input.members {
        set_members(tx, state, actor, current.id, name.as_str(), members).await?;
    }
    Ok(())
}

pub async fn replace_group(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
    body: &Value,
) -> Result<Value, ScimError> {
    let mut input = GroupInput::parse(body)?;
    // A PUT replaces: no members means none.
    input.members.get_or_insert_with(Vec::new);
    let mut tx = state.db.begin().await?;
    let current = locked_group(&mut tx, actor, raw_id).await?;
    replace_group_in(&mut tx, state, actor, &current, &input).await?;
    let group = read_group(&mut tx, actor.org_id, current.id, true)
        .await?
        .ok_or(AppError::Internal)?;
    tx.commit().await?;
    Ok(group.to_json(&base_url(state)))
}

/// PATCH of a group: applied to the group as it is, then read as a replace.
pub async fn patch_group(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
    body: &Value,
) -> Result<Value, ScimError> {
    let operations = patch::parse_operations(body)?;
    let base = base_url(state);
    let mut tx = state.db.begin().await?;
    let current = locked_group(&mut tx, actor, raw_id).await?;
    let mut doc = current.to_json(&base);
    patch::apply(&mut doc, &operations)?;
    let mut input = GroupInput::parse(&doc)?;
    input.members.get_or_insert_with(Vec::new);
    replace_group_in(&mut tx, state, actor, &current, &input).await?;
    let group = read_group(&mut tx, actor.org_id, current.id, true)
        .await?
        .ok_or(AppError::Internal)?;
    tx.commit().await?;
    Ok(group.to_json(&base))
}

pub async fn delete_group(
    state: &AppState,
    actor: &ScimActor,
    raw_id: &str,
) -> Result<(), ScimError> {
    let mut tx = state.db.begin().await?;
    let current = locked_group(&mut tx, actor, raw_id).await?;
    sqlx::query("DELETE FROM groups WHERE id = $1 AND org_id = $2")
        .bind(current.id)
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor.event(
            "group.deleted",
            format!("group:{}", current.id),
            json!({"name": current.name}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
