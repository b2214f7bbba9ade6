use super::model::{InvitationState, InvitationView, InviteOutcome, PendingInvitation};
use crate::auth::server::{self as auth, token_hash, Actor, RequestMeta};
use crate::dates::date_time;
use crate::domain::{Email, Password, PersonName, Role};
use crate::error::AppError;
use crate::orgs::store::{lock_org, role_of};
use crate::policy::{authorize, Action};
use crate::state::AppState;
use rand::RngCore;

pub const VALID_FOR_SECS: i64 = 7 * 24 * 3600;

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Accepts only tokens of our shape, so junk never reaches the database.
fn parse_token(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(AppError::NotFound)
    }
}

fn may_invite(role: Role, invited_role: Role) -> Result<(), AppError> {
    authorize(role, Action::ManageMembers)?;
    if invited_role == Role::Owner {
        authorize(role, Action::ManageOwners)?;
    }
    Ok(())
}

/// Seats in use: members plus invitations that may still be accepted.
pub async fn seats_used(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    now: i64,
) -> Result<(i64, i64), AppError> {
    let (members,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND status = 'pending' AND expires_at > $2")
            .bind(org_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
    Ok((members, pending))
}

/// Refuses (409 next to `field`) when every seat of the plan is taken. Call it holding the
/// organization's lock.
pub async fn check_seat_free(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    now: i64,
    field: &str,
) -> Result<(), AppError> {
    let (seats,): (i64,) = sqlx::query_as("SELECT seats FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
    let (members, pending) = seats_used(tx, org_id, now).await?;
    if members + pending >= seats {
        return Err(AppError::conflict(
            field,
            format!(
                "All {seats} seats of your plan are taken ({members} members, {pending} pending invitations). \
                 Add seats in Billing or revoke a pending invitation."
            ),
        ));
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    name: PersonName,
    email: Email,
    role: Role,
) -> Result<InviteOutcome, AppError> {
    may_invite(actor.role, role)?;
    let now = state.now();
    let token = new_token();
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let member: Option<(i64,)> = sqlx::query_as(
        "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id
         WHERE m.org_id = $1 AND u.email_normalized = $2",
    )
    .bind(actor.org_id)
    .bind(email.normalized())
    .fetch_optional(&mut *tx)
    .await?;
    if member.is_some() {
        return Err(AppError::conflict(
            "email",
            format!("{} is a member already.", email.as_str()),
        ));
    }
    // An expired invitation to the same address no longer blocks a new one.
    sqlx::query(
        "UPDATE invitations SET status = 'revoked', finished_at = $1
         WHERE org_id = $2 AND email_normalized = $3 AND status = 'pending' AND expires_at <= $1",
    )
    .bind(now)
    .bind(actor.org_id)
    .bind(email.normalized())
    .execute(&mut *tx)
    .await?;
    check_seat_free(&mut tx, actor.org_id, now, "email").await?;
    let inserted = sqlx::query(
        "INSERT INTO invitations (org_id, email, email_normalized, name, role, token_hash, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(actor.org_id)
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(name.as_str())
    .bind(role.as_str())
    .bind(token_hash(&token))
    .bind(actor.user_id)
    .bind(now)
    .bind(now + VALID_FOR_SECS)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(AppError::conflict(
                "email",
                format!(
                    "An invitation to {} is pending already: resend it instead.",
                    email.as_str()
                ),
            ));
        }
        other => other?,
    };
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event(
                "invitation.created",
                format!("email:{}", email.normalized()),
            )
            .details(serde_json::json!({"role": role.as_str()})),
    )
    .await?;
    tx.commit().await?;
    deliver(state, actor, name.as_str(), email.as_str(), role, &token).await
}

/// Emails the link when SMTP is configured; otherwise, or when sending fails, hands it back
/// to show the inviter: the invitation exists either way, and its link is never lost.
async fn deliver(
    state: &AppState,
    actor: &Actor,
    name: &str,
    email: &str,
    role: Role,
    token: &str,
) -> Result<InviteOutcome, AppError> {
    let link = format!("{}/invite/{token}", state.base_url());
    let to_copy = |email_failed: bool| InviteOutcome {
        email: email.to_string(),
        emailed: false,
        email_failed,
        link: Some(link.clone()),
    };
    let Some(mailer) = &state.mailer else {
        return Ok(to_copy(false));
    };
    // After the commit: the invitation exists, so a failed read hands the link back rather
    // than answering an error for it.
    let org_name: Result<(String,), sqlx::Error> =
        sqlx::query_as("SELECT name FROM organizations WHERE id = $1")
            .bind(actor.org_id)
            .fetch_one(&state.db.pool)
            .await;
    let (org_name,) = match org_name {
        Ok(row) => row,
        Err(err) => {
            tracing::warn!(error = %err, "the invitation's email was not sent; its link is shown");
            return Ok(to_copy(true));
        }
    };
    let body = format!(
        "Hello {name},\n\n{} invited you to join {org_name} on Gatehouse as {}.\n\n\
         Accept the invitation: {link}\n\nThe link works once and expires in 7 days.\n",
        actor.name,
        role.label()
    );
    match mailer
        .send(name, email, &format!("Join {org_name} on Gatehouse"), body)
        .await
    {
        Ok(()) => Ok(InviteOutcome {
            email: email.to_string(),
            emailed: true,
            email_failed: false,
            link: None,
        }),
        // Logged by the mailer; the inviter passes the link on instead.
        Err(_) => Ok(to_copy(true)),
    }
}

pub async fn pending(state: &AppState, actor: &Actor) -> Result<Vec<PendingInvitation>, AppError> {
    authorize(actor.role, Action::ManageMembers)?;
    let now = state.now();
    let rows = state
        .db
        .read(
            "SELECT id, name, email, role, created_at, expires_at FROM invitations
             WHERE org_id = $1 AND status = 'pending' ORDER BY created_at DESC, id DESC LIMIT 200",
            &[actor.org_id.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let (id, name, email, role, created, expires) = (
                r.i64(0)?,
                r.text(1)?,
                r.text(2)?,
                r.text(3)?,
                r.i64(4)?,
                r.i64(5)?,
            );
            Ok(PendingInvitation {
                id,
                name,
                email,
                role: role_of(&role)?,
                invited: date_time(created),
                expires: date_time(expires),
                expired: expires <= now,
            })
        })
        .collect()
}

pub async fn revoke(state: &AppState, actor: &Actor, id: i64) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageMembers)?;
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE invitations SET status = 'revoked', finished_at = $1 WHERE id = $2 AND org_id = $3 AND status = 'pending'",
    )
    .bind(state.now())
    .bind(id)
    .bind(actor.org_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    crate::audit::record(
        &mut tx,
        state,
        actor.event("invitation.revoked", format!("invitation:{id}")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Resends allowed per invitation, and per organization, per hour: each may send an email,
/// so an unlimited Resend would make Gatehouse a relay for mail to any address.
pub const RESENDS_PER_INVITATION: i64 = 5;
pub const RESENDS_PER_ORG: i64 = 50;

/// A new link (the old one stops working) and a new 7-day expiry.
pub async fn resend(state: &AppState, actor: &Actor, id: i64) -> Result<InviteOutcome, AppError> {
    authorize(actor.role, Action::ManageMembers)?;
    // Counted before the transaction (the counters are written on their own connection,
    // which must not wait for the organization's lock held below).
    let hour = std::time::Duration::from_secs(3600);
    crate::auth::server::rate_limit::hit(
        state,
        &format!("invitation-resend:{id}"),
        RESENDS_PER_INVITATION,
        hour,
    )
    .await?;
    crate::auth::server::rate_limit::hit(
        state,
        &format!("invitation-resend-org:{}", actor.org_id),
        RESENDS_PER_ORG,
        hour,
    )
    .await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // Under the organization's lock, like create: the seat count below cannot race another
    // invitation or a resend.
    lock_org(&mut tx, actor.org_id).await?;
    // Authorize on the invitation's role before touching it: a refused resend (an Admin
    // and an Owner invitation) must leave the existing link working.
    let row: Option<(String, String, String, i64)> = sqlx::query_as(
        "SELECT name, email, role, expires_at FROM invitations
         WHERE id = $1 AND org_id = $2 AND status = 'pending'",
    )
    .bind(id)
    .bind(actor.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (name, email, role, expires_at) = row.ok_or(AppError::NotFound)?;
    let role = role_of(&role)?;
    may_invite(actor.role, role)?;
    // An expired invitation holds no seat: reviving it takes one, if one is free.
    if expires_at <= now {
        check_seat_free(&mut tx, actor.org_id, now, "id").await?;
    }
    let token = new_token();
    sqlx::query(
        "UPDATE invitations SET token_hash = $1, expires_at = $2, created_at = $3
         WHERE id = $4 AND org_id = $5 AND status = 'pending'",
    )
    .bind(token_hash(&token))
    .bind(now + VALID_FOR_SECS)
    .bind(now)
    .bind(id)
    .bind(actor.org_id)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor.event("invitation.resent", format!("invitation:{id}")),
    )
    .await?;
    tx.commit().await?;
    deliver(state, actor, &name, &email, role, &token).await
}

pub async fn view(
    state: &AppState,
    meta: &RequestMeta,
    raw_token: &str,
) -> Result<InvitationView, AppError> {
    let token = parse_token(raw_token)?;
    let row: Option<(String, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT o.name, i.name, i.email, i.role, i.status, i.expires_at
         FROM invitations i JOIN organizations o ON o.id = i.org_id WHERE i.token_hash = $1",
    )
    .bind(token_hash(&token))
    .fetch_optional(&state.db.pool)
    .await?;
    let (org_name, name, email, role, status, expires_at) = row.ok_or(AppError::NotFound)?;
    let state_now = match status.as_str() {
        "accepted" => InvitationState::Accepted,
        "revoked" => InvitationState::Revoked,
        _ if expires_at <= state.now() => InvitationState::Expired,
        _ => InvitationState::Pending,
    };
    let account_exists = match Email::parse(&email) {
        Ok(e) => auth::store::find_user_by_email(state, &e).await?.is_some(),
        Err(_) => false,
    };
    let signed_in_as = auth::authenticate(state, meta).await?.map(|s| s.email);
    Ok(InvitationView {
        org_name,
        name,
        email,
        role: role_of(&role)?,
        state: state_now,
        account_exists,
        signed_in_as,
    })
}

fn used_revoked_or_expired() -> AppError {
    AppError::conflict(
        "token",
        "This invitation was used, revoked, or has expired.",
    )
}

/// Marks the invitation accepted — exactly once, whoever else tries at the same moment —
/// and returns (org id, email, role). The UPDATE's condition is the single-use guarantee.
async fn claim(
    tx: &mut sqlx::AnyConnection,
    token: &str,
    user_id: Option<i64>,
    now: i64,
) -> Result<(i64, String, Role), AppError> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "UPDATE invitations SET status = 'accepted', finished_at = $1, accepted_by = $2
         WHERE token_hash = $3 AND status = 'pending' AND expires_at > $1
         RETURNING org_id, email, role",
    )
    .bind(now)
    .bind(user_id)
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let (org_id, email, role) = row.ok_or_else(used_revoked_or_expired)?;
    Ok((org_id, email, role_of(&role)?))
}

pub async fn add_member(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
         SELECT $1, $2, $3, $4, name FROM users WHERE id = $2
         ON CONFLICT (org_id, user_id) DO NOTHING",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new person accepts: creates their account (the invitation's email) and signs them in.
pub async fn accept_as_new_user(
    state: &AppState,
    meta: &RequestMeta,
    raw_token: &str,
    name: PersonName,
    password: Password,
) -> Result<i64, AppError> {
    let token = parse_token(raw_token)?;
    let now = state.now();
    // Cheap checks before the argon2 hash: a link that cannot be accepted costs one indexed
    // read, and each client address gets a few account creations per window.
    let open: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM invitations WHERE token_hash = $1 AND status = 'pending' AND expires_at > $2",
    )
    .bind(token_hash(&token))
    .bind(now)
    .fetch_optional(&state.db.pool)
    .await?;
    if open.is_none() {
        return Err(used_revoked_or_expired());
    }
    auth::limit_account_creation(state, meta).await?;
    let hash = auth::password::hash(state, password).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let (org_id, email, role) = claim(&mut tx, &token, None, now).await?;
    let email = Email::parse(&email)?;
    let user_id = auth::store::insert_user(
        &mut tx,
        &name,
        &email,
        &hash,
        now,
        "An account with this email exists: sign in to accept.",
    )
    .await?;
    sqlx::query("UPDATE invitations SET accepted_by = $1 WHERE token_hash = $2")
        .bind(user_id)
        .bind(token_hash(&token))
        .execute(&mut *tx)
        .await?;
    add_member(&mut tx, org_id, user_id, role, now).await?;
    record_accepted(&mut tx, state, meta, org_id, user_id, role).await?;
    tx.commit().await?;
    let proof = auth::proof::Proof::new(&[auth::proof::Method::Password], None);
    auth::start_session(state, meta, user_id, Some(org_id), &proof).await?;
    Ok(org_id)
}

/// A signed-in person accepts an invitation sent to their own email.
pub async fn accept_as_signed_in(
    state: &AppState,
    meta: &RequestMeta,
    raw_token: &str,
) -> Result<i64, AppError> {
    let token = parse_token(raw_token)?;
    let session = auth::authenticate(state, meta)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let (org_id, email, role) = claim(&mut tx, &token, Some(session.user_id), now).await?;
    if email.to_lowercase() != session.email.to_lowercase() {
        // Dropping the transaction rolls the claim back: the invitation stays open.
        return Err(AppError::conflict(
            "token",
            format!("This invitation is for {email}. Sign in with that email to accept it."),
        ));
    }
    add_member(&mut tx, org_id, session.user_id, role, now).await?;
    record_accepted(&mut tx, state, meta, org_id, session.user_id, role).await?;
    tx.commit().await?;
    auth::store::set_current_org(state, &session.id_hash, org_id).await?;
    Ok(org_id)
}

async fn record_accepted(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    meta: &RequestMeta,
    org_id: i64,
    user_id: i64,
    role: Role,
) -> Result<(), AppError> {
    crate::audit::record(
        tx,
        state,
        crate::audit::Event::new("invitation.accepted", format!("user:{user_id}"))
            .org(org_id)
            .actor(user_id)
            .ip(meta.ip.clone())
            .details(serde_json::json!({"role": role.as_str()})),
    )
    .await
}
