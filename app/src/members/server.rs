use super::model::{MemberFigures, MemberRow, MembersPage, SuspendedMember, Viewer};
use crate::auth::server::Actor;
use crate::dates::iso_date;
use crate::domain::Role;
use crate::error::AppError;
use crate::orgs::store::{lock_org, membership, role_of};
use crate::policy::{allows, authorize, Action};
use crate::state::AppState;

pub const PAGE_SIZE: i64 = 50;

/// A page of members after the `after` cursor (keyset pagination: page 2,000 costs what page 1
/// does), optionally filtered by name or email. The list is ordered by (name, user id); a
/// search in the order of the index that serves it (see [`super::search::clauses`]).
pub async fn page(
    state: &AppState,
    actor: &Actor,
    search: Option<&str>,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<MembersPage, AppError> {
    authorize(actor.role, Action::ViewMembers)?;
    let (after_name, after_id) = after.unwrap_or_default();
    let term = super::search::Term::parse(search);
    let stats = state.search_stats.current(&state.db);
    let clauses = super::search::clauses(state.db.backend, term.as_ref(), stats.as_deref());
    let sql = format!(
        "SELECT u.id, u.name, u.email, m.role, m.created_at, u.two_factor_at
         FROM memberships m JOIN users u ON u.id = m.user_id {}
         WHERE m.org_id = $1 AND {}
         ORDER BY {} LIMIT $4",
        clauses.join, clauses.condition, clauses.order
    );
    let params: Vec<crate::db::Param> = vec![
        actor.org_id.into(),
        after_name.into(),
        after_id.into(),
        (limit + 1).into(),
    ];
    let rows = clauses.read(&state.db, &sql, params).await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok((
                r.i64(0)?,
                r.text(1)?,
                r.text(2)?,
                r.text(3)?,
                r.i64(4)?,
                r.opt_i64(5)?,
            ))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let has_more = rows.len() as i64 > limit;
    let members = rows
        .into_iter()
        .take(limit as usize)
        .map(|(user_id, name, email, role, joined, two_factor_at)| {
            Ok(MemberRow {
                user_id,
                name,
                email,
                role: role_of(&role)?,
                joined: iso_date(joined),
                two_factor: two_factor_at.is_some(),
                groups: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let mut members = members;
    let groups = groups_of(state, actor.org_id, &members).await?;
    for m in &mut members {
        m.groups = groups
            .iter()
            .filter(|(user, _)| *user == m.user_id)
            .map(|(_, name)| name.clone())
            .collect();
    }
    let next_cursor = has_more
        .then(|| members.last().map(|m| encode_cursor(&m.name, m.user_id)))
        .flatten();
    let suspended = if search.is_none_or(|s| s.trim().is_empty()) && after_id == 0 {
        suspended_members(state, actor.org_id).await?
    } else {
        Vec::new()
    };
    Ok(MembersPage {
        members,
        next_cursor,
        suspended,
        viewer: Viewer {
            user_id: actor.user_id,
            role: actor.role,
            can_manage_members: allows(actor.role, Action::ManageMembers),
            can_manage_owners: allows(actor.role, Action::ManageOwners),
        },
    })
}

/// Members the identity provider suspended, newest first (at most 100 shown).
async fn suspended_members(
    state: &AppState,
    org_id: i64,
) -> Result<Vec<SuspendedMember>, AppError> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT u.name, u.email, s.suspended_role, s.suspended_at
         FROM scim_users s JOIN users u ON u.id = s.user_id
         WHERE s.org_id = $1 AND s.suspended_at IS NOT NULL
         ORDER BY s.suspended_at DESC, s.user_id LIMIT 100",
    )
    .bind(org_id)
    .fetch_all(&state.db.pool)
    .await?;
    rows.into_iter()
        .map(|(name, email, role, since)| {
            Ok(SuspendedMember {
                name,
                email,
                role: role_of(&role)?,
                since: iso_date(since),
            })
        })
        .collect()
}

/// (user id, group name) for the members of one page: one query on (org_id, user_id).
async fn groups_of(
    state: &AppState,
    org_id: i64,
    members: &[MemberRow],
) -> Result<Vec<(i64, String)>, AppError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    // At most 50 integer ids: safe to inline.
    let ids = members
        .iter()
        .map(|m| m.user_id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let rows = state
        .db
        .read(
            &format!(
                "SELECT gm.user_id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
                 WHERE gm.org_id = $1 AND gm.user_id IN ({ids}) ORDER BY g.name_key"
            ),
            &[org_id.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.i64(0)?, r.text(1)?))).collect()
}

pub fn encode_cursor(name: &str, id: i64) -> String {
    format!("{id}:{name}")
}

pub fn decode_cursor(cursor: &str) -> Result<(String, i64), AppError> {
    cursor
        .split_once(':')
        .and_then(|(id, name)| Some((name.to_string(), id.parse::<i64>().ok()?)))
        .ok_or_else(|| AppError::invalid("after", "That page link is not valid."))
}

fn last_owner() -> AppError {
    AppError::conflict(
        "role",
        "An organization needs at least one Owner. Make someone else an Owner first.",
    )
}

async fn owners_left(tx: &mut sqlx::AnyConnection, org_id: i64) -> Result<i64, AppError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'")
            .bind(org_id)
            .fetch_one(&mut *tx)
            .await?;
    Ok(n)
}

/// Takes the organization lock and reads, under it, the roles of the actor and of the member
/// acted on (either may have changed since the request began); an absent one is a 404.
async fn lock_roles(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    user_id: i64,
) -> Result<(Role, Role), AppError> {
    lock_org(tx, actor.org_id).await?;
    let actor_role = membership(&mut *tx, actor.org_id, actor.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let target = membership(&mut *tx, actor.org_id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((actor_role, target))
}

/// Changes a member's role. Roles are re-read under the organization lock, so concurrent
/// demotions cannot leave the organization without an Owner.
pub async fn change_role(
    state: &AppState,
    actor: &Actor,
    user_id: i64,
    new_role: Role,
) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageMembers)?;
    if user_id == actor.user_id {
        // A conflict with who is asking, not malformed input.
        return Err(AppError::conflict(
            "role",
            "You cannot change your own role.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let (actor_role, current) = lock_roles(&mut tx, actor, user_id).await?;
    authorize(actor_role, Action::ManageMembers)?;
    if current == Role::Owner || new_role == Role::Owner {
        authorize(actor_role, Action::ManageOwners)?;
    }
    if current == new_role {
        return Ok(());
    }
    sqlx::query("UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3")
        .bind(new_role.as_str())
        .bind(actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if owners_left(&mut tx, actor.org_id).await? == 0 {
        return Err(last_owner());
    }
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("member.role_changed", format!("user:{user_id}"))
            .details(serde_json::json!({"from": current.as_str(), "to": new_role.as_str()})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes `user_id` from the organization (or the actor themself, when leaving). Their
/// sessions stop reaching the organization at once: every request re-reads the membership.
pub async fn remove(state: &AppState, actor: &Actor, user_id: i64) -> Result<(), AppError> {
    let leaving = user_id == actor.user_id;
    if !leaving {
        authorize(actor.role, Action::ManageMembers)?;
    }
    let mut tx = state.db.begin().await?;
    let (actor_role, target) = lock_roles(&mut tx, actor, user_id).await?;
    if !leaving {
        authorize(actor_role, Action::ManageMembers)?;
        if target == Role::Owner {
            authorize(actor_role, Action::ManageOwners)?;
        }
    }
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(actor.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if target == Role::Owner && owners_left(&mut tx, actor.org_id).await? == 0 {
        return Err(last_owner());
    }
    crate::api_keys::server::revoke_member_keys(&mut tx, actor.org_id, user_id, state.now())
        .await?;
    let action = if leaving {
        "member.left"
    } else {
        "member.removed"
    };
    crate::audit::record(
        &mut tx,
        state,
        actor.event(action, format!("user:{user_id}")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An Owner resets a member's two-factor authentication (a lost phone and lost recovery
/// codes): the factors go, the member's sessions end, and they are asked to enroll again,
/// in-app and by email. Never for oneself (Profile turns 2FA off) nor another Owner, and only
/// for someone who belongs to no other organization: the factors guard the whole account,
/// and another organization's Owners did not agree (the instance operator can, with
/// `gatehouse admin reset-two-factor`).
pub async fn reset_two_factor(
    state: &AppState,
    actor: &Actor,
    user_id: i64,
) -> Result<(), AppError> {
    authorize(actor.role, Action::ResetMemberTwoFactor)?;
    // It opens another person's account to a password alone: a sensitive action.
    crate::auth::server::require_recent_auth(state, actor.authenticated_at)?;
    if user_id == actor.user_id {
        return Err(AppError::invalid(
            "two_factor",
            "You cannot reset your own two-factor authentication here; use your profile page.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let (actor_role, target) = lock_roles(&mut tx, actor, user_id).await?;
    authorize(actor_role, Action::ResetMemberTwoFactor)?;
    if target == Role::Owner {
        return Err(AppError::invalid(
            "two_factor",
            "Another Owner's two-factor authentication cannot be reset here; the Gatehouse operator can reset it.",
        ));
    }
    let (orgs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    if orgs > 1 {
        return Err(AppError::invalid(
            "two_factor",
            "This member also belongs to other organizations, so their two-factor authentication guards those too; the Gatehouse operator can reset it.",
        ));
    }
    let (name, email, had): (String, String, Option<i64>) =
        sqlx::query_as("SELECT name, email, two_factor_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    if had.is_none() {
        return Err(AppError::invalid(
            "two_factor",
            "This member has no two-factor authentication to reset.",
        ));
    }
    crate::two_factor::server::reset_factors(&mut tx, user_id).await?;
    // The in-app notice "… asks you to turn on two-factor authentication".
    sqlx::query(
        "INSERT INTO two_factor_notices (user_id, org_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(actor.org_id)
    .bind(state.now())
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor.event("member.two_factor_reset", format!("user:{user_id}")),
    )
    .await?;
    tx.commit().await?;
    if let Some(mailer) = &state.mailer {
        let body = format!(
            "Hello {name},\n\n{} reset your two-factor authentication on Gatehouse: your \
             authenticator app and recovery codes no longer work, and you were signed out.\n\n\
             Sign in with your password and turn two-factor authentication on again on your \
             profile page: {}/profile\n\nIf you did not ask for this, tell {} at once.\n",
            actor.name,
            state.base_url().trim_end_matches('/'),
            actor.email
        );
        // Logged by the mailer; the in-app notice remains.
        let _ = mailer
            .send(
                &name,
                &email,
                "Your two-factor authentication was reset",
                body,
            )
            .await;
    }
    Ok(())
}

/// The overview's figures: members, pending invitations and, for Owners and Admins, how many
/// members have 2FA and the organization's 2FA policy.
pub async fn figures(state: &AppState, actor: &Actor) -> Result<MemberFigures, AppError> {
    authorize(actor.role, Action::ViewMembers)?;
    let (members,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1")
        .bind(actor.org_id)
        .fetch_one(&state.db.pool)
        .await?;
    let (pending_invitations,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $2",
    )
    .bind(actor.org_id)
    .bind(state.now())
    .fetch_one(&state.db.pool)
    .await?;
    let with_two_factor = if allows(actor.role, Action::ManageMembers) {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND two_factor_at IS NOT NULL",
        )
        .bind(actor.org_id)
        .fetch_one(&state.db.pool)
        .await?;
        Some(n)
    } else {
        None
    };
    let (level, deadline) =
        crate::two_factor::server::policy::org_policy(state, actor.org_id).await?;
    Ok(MemberFigures {
        members,
        pending_invitations,
        with_two_factor,
        policy_visible: allows(actor.role, Action::ManageOrganization),
        two_factor_required: level.is_some(),
        security_keys_only: level == Some(crate::two_factor::model::PolicyLevel::SecurityKeys),
        two_factor_deadline: deadline
            .filter(|d| *d > state.now())
            .map(crate::dates::date_time),
    })
}
