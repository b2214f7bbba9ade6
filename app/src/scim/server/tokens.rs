//! The organization's SCIM tokens (`gths_` + 40 random base62 characters; only their SHA-256
//! is kept), the check of every SCIM request, and the Provisioning panel's service.

use super::{ScimActor, ScimError};
use crate::auth::server::Actor;
use crate::domain::Role;
use crate::error::AppError;
use crate::policy::{authorize, Action};
use crate::scim::model::{
    NewScimToken, ProvisionedPerson, ProvisioningError, ProvisioningView, ScimTokenRow,
};
use crate::state::AppState;
use rand::distributions::{Alphanumeric, Distribution};
use serde_json::json;

pub const PREFIX: &str = "gths_";
const RANDOM_LEN: usize = 40;
/// How much of a token the panel shows.
const SHOWN_LEN: usize = PREFIX.len() + 6;
/// Tokens an organization may have at once (a rotation needs two).
const MAX_ACTIVE: i64 = 5;
/// `last_used_at` is written at most this often per token.
const LAST_USED_PRECISION_SECS: i64 = 60;
const ERRORS_KEPT: i64 = 50;

fn generate() -> String {
    let random: String = Alphanumeric
        .sample_iter(rand::rngs::OsRng)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    format!("{PREFIX}{random}")
}

fn well_formed(token: &str) -> bool {
    token.len() == PREFIX.len() + RANDOM_LEN
        && token
            .strip_prefix(PREFIX)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The token of `Authorization: Bearer …`, or 401.
pub async fn authenticate(
    state: &AppState,
    authorization: Option<&str>,
    ip: Option<String>,
) -> Result<ScimActor, ScimError> {
    let token = authorization
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| well_formed(t))
        .ok_or_else(ScimError::unauthorized)?;
    let hash = crate::auth::server::token_hash(token);
    let row: Option<(i64, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, org_id, name, last_used_at FROM scim_tokens
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(&hash)
    .fetch_optional(&state.db.pool)
    .await?;
    let (token_id, org_id, token_name, last_used_at) = row.ok_or_else(ScimError::unauthorized)?;
    let now = state.now();
    if last_used_at.is_none_or(|at| now - at >= LAST_USED_PRECISION_SECS) {
        sqlx::query(
            "UPDATE scim_tokens SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(now)
        .bind(token_id)
        .bind(now - LAST_USED_PRECISION_SECS)
        .execute(&state.db.pool)
        .await?;
    }
    Ok(ScimActor {
        token_id,
        org_id,
        token_name,
        ip,
    })
}

/// Keeps a refused request for the panel's "Last errors" (the newest few per organization).
pub async fn record_error(
    state: &AppState,
    org_id: i64,
    method: &str,
    path: &str,
    error: &ScimError,
) -> Result<(), AppError> {
    let mut conn = state.db.pool.acquire().await?;
    sqlx::query(
        "INSERT INTO scim_errors (org_id, method, path, status, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org_id)
    .bind(method)
    .bind(path.chars().take(300).collect::<String>())
    .bind(i64::from(error.status))
    .bind(error.detail.chars().take(500).collect::<String>())
    .bind(state.now())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM scim_errors WHERE org_id = $1 AND id <= (
             SELECT id FROM scim_errors WHERE org_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(org_id)
    .bind(ERRORS_KEPT)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// id, name, prefix, who made it, when, last used.
type TokenListRow = (i64, String, String, Option<String>, i64, Option<i64>);

pub async fn view(state: &AppState, actor: &Actor) -> Result<ProvisioningView, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let pool = &state.db.pool;
    let tokens: Vec<TokenListRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.prefix, u.name, t.created_at, t.last_used_at
         FROM scim_tokens t LEFT JOIN users u ON u.id = t.created_by
         WHERE t.org_id = $1 AND t.revoked_at IS NULL ORDER BY t.created_at, t.id",
    )
    .bind(actor.org_id)
    .fetch_all(pool)
    .await?;
    let (default_role,): (String,) =
        sqlx::query_as("SELECT scim_default_role FROM organizations WHERE id = $1")
            .bind(actor.org_id)
            .fetch_one(pool)
            .await?;
    let (users, suspended): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN suspended_at IS NULL THEN 0 ELSE 1 END), 0)
         FROM scim_users WHERE org_id = $1",
    )
    .bind(actor.org_id)
    .fetch_one(pool)
    .await?;
    let (groups,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM groups WHERE org_id = $1 AND scim_managed = 1")
            .bind(actor.org_id)
            .fetch_one(pool)
            .await?;
    let recent: Vec<(String, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT u.name, u.email, s.suspended_at, s.updated_at
         FROM scim_users s JOIN users u ON u.id = s.user_id
         WHERE s.org_id = $1 ORDER BY s.updated_at DESC, s.user_id DESC LIMIT 10",
    )
    .bind(actor.org_id)
    .fetch_all(pool)
    .await?;
    let errors: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
        "SELECT method, path, status, detail, created_at FROM scim_errors
         WHERE org_id = $1 ORDER BY id DESC LIMIT 10",
    )
    .bind(actor.org_id)
    .fetch_all(pool)
    .await?;
    Ok(ProvisioningView {
        base_url: super::base_url(state),
        tokens: tokens
            .into_iter()
            .map(
                |(id, name, prefix, created_by, created_at, last_used_at)| ScimTokenRow {
                    id,
                    name,
                    prefix,
                    created_by,
                    created_at: crate::dates::date_time(created_at),
                    last_used: last_used_at.map(crate::dates::date_time),
                },
            )
            .collect(),
        default_role: crate::orgs::store::role_of(&default_role)?,
        provisioned_users: users - suspended,
        suspended_users: suspended,
        provisioned_groups: groups,
        recent: recent
            .into_iter()
            .map(|(name, email, suspended_at, changed)| ProvisionedPerson {
                name,
                email,
                suspended: suspended_at.is_some(),
                changed: crate::dates::date_time(changed),
            })
            .collect(),
        errors: errors
            .into_iter()
            .map(|(method, path, status, detail, at)| ProvisioningError {
                request: format!("{method} {path}"),
                status: status as u16,
                detail,
                at: crate::dates::date_time(at),
            })
            .collect(),
    })
}

fn parse_token_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    match name.chars().count() {
        0 => Err(AppError::invalid(
            "name",
            "Name the token after the provider that uses it, like \"Okta\".",
        )),
        1..=60 => Ok(name.to_string()),
        _ => Err(AppError::invalid("name", "Use at most 60 characters.")),
    }
}

/// A new token, shown once. Turning provisioning on is making the first one.
pub async fn create(state: &AppState, actor: &Actor, name: &str) -> Result<NewScimToken, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let name = parse_token_name(name)?;
    let token = generate();
    let now = state.now();
    let mut tx = state.db.begin().await?;
    crate::orgs::store::lock_org(&mut tx, actor.org_id).await?;
    let (active,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM scim_tokens WHERE org_id = $1 AND revoked_at IS NULL")
            .bind(actor.org_id)
            .fetch_one(&mut *tx)
            .await?;
    if active >= MAX_ACTIVE {
        return Err(AppError::conflict(
            "name",
            format!("An organization has at most {MAX_ACTIVE} SCIM tokens: revoke one first."),
        ));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO scim_tokens (org_id, name, prefix, token_hash, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(actor.org_id)
    .bind(&name)
    .bind(&token[..SHOWN_LEN])
    .bind(crate::auth::server::token_hash(&token))
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("scim.token_created", format!("scim_token:{id}"))
            .details(json!({"name": name})),
    )
    .await?;
    tx.commit().await?;
    Ok(NewScimToken { id, name, token })
}

pub async fn revoke(state: &AppState, actor: &Actor, token_id: i64) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let mut tx = state.db.begin().await?;
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM scim_tokens WHERE id = $1 AND org_id = $2 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(actor.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (name,) = row.ok_or(AppError::NotFound)?;
    sqlx::query("UPDATE scim_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(state.now())
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("scim.token_revoked", format!("scim_token:{token_id}"))
            .details(json!({"name": name})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The role of people the provider provisions without one: any but Owner.
pub async fn set_default_role(state: &AppState, actor: &Actor, role: Role) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    if role == Role::Owner {
        return Err(AppError::invalid(
            "role",
            "Provisioning never makes anyone an Owner. Choose another role.",
        ));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE organizations SET scim_default_role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("scim.default_role_changed", format!("org:{}", actor.org_id))
            .details(json!({"role": role.as_str()})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_shape_and_others_do_not() {
        let token = generate();
        assert!(well_formed(&token), "{token}");
        assert_ne!(generate(), token);
        for bad in [
            "",
            "gths_short",
            "gth_0123456789012345678901234567890123456789",
            "gths_012345678901234567890123456789012345678!",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
