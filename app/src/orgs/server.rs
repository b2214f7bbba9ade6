use super::model::{MemberRow, MembersPage};
use crate::auth::model::OrgSummary;
use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;

fn role_of(raw: &str) -> Result<Role, AppError> {
    Role::parse(raw).map_err(|_| {
        tracing::error!(role = raw, "unknown role stored in memberships");
        AppError::Internal
    })
}

pub async fn orgs_of_user(state: &AppState, user_id: i64) -> Result<Vec<OrgSummary>, AppError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.name, o.id",
    )
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    rows.into_iter()
        .map(|(id, name, role)| {
            Ok(OrgSummary {
                id,
                name,
                role: role_of(&role)?,
            })
        })
        .collect()
}

/// The user's role in the organization, or `None` when they are not a member.
pub async fn membership(
    state: &AppState,
    org_id: i64,
    user_id: i64,
) -> Result<Option<Role>, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&state.db.pool)
            .await?;
    row.map(|(role,)| role_of(&role)).transpose()
}

/// A page of members ordered by (name, user id), continuing after `after` (keyset pagination:
/// as fast on page 2,000 as on page 1).
pub async fn members_page(
    state: &AppState,
    org_id: i64,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<MembersPage, AppError> {
    let (after_name, after_id) = after.unwrap_or_default();
    let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.name, u.email, m.role, m.created_at
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND (u.name > $2 OR (u.name = $2 AND u.id > $3))
         ORDER BY u.name, u.id LIMIT $4",
    )
    .bind(org_id)
    .bind(&after_name)
    .bind(after_id)
    .bind(limit + 1)
    .fetch_all(&state.db.pool)
    .await?;
    let has_more = rows.len() as i64 > limit;
    let members = rows
        .into_iter()
        .take(limit as usize)
        .map(|(user_id, name, email, role, joined)| {
            Ok(MemberRow {
                user_id,
                name,
                email,
                role: role_of(&role)?,
                joined: iso_date(joined),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let next_cursor = has_more
        .then(|| members.last().map(|m| format!("{}:{}", m.user_id, m.name)))
        .flatten();
    Ok(MembersPage {
        members,
        next_cursor,
    })
}

pub fn iso_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Iso8601::DATE)
                .ok()
        })
        .unwrap_or_default()
}
