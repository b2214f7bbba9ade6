//! Server side of 2FA: enrollment, verification (window, replay, lockout), recovery codes,
//! and the half-done sign-ins that wait for their second step.

pub mod factors;
pub mod policy;
pub mod standing;
pub mod totp;

use super::model::{Enrollment, RecoveryCodes, TwoFactorStatus};
use crate::auth::server::proof::{Method, Proof};
use crate::error::AppError;
use crate::state::AppState;
use factors::{
    clear_failures, load, normalize, record_failure, record_for_user, recovery_hash,
    replace_recovery_codes, reserve_attempt, RECOVERY_LEN,
};
pub use factors::{
    has_app, is_enabled, remove_factors, LOCK_SECS, MAX_FAILURES, RECOVERY_CODE_COUNT,
};
use rand::RngCore;

/// How long a sign-in may wait between the password and the second step.
pub const CHALLENGE_SECS: i64 = 5 * 60;

fn secret_context(user_id: i64) -> String {
    format!("totp:{user_id}")
}

fn decrypt_secret(state: &AppState, user_id: i64, stored: &str) -> Result<Vec<u8>, AppError> {
    state
        .secret_key
        .decrypt(stored, &secret_context(user_id))
        .ok_or_else(|| {
            tracing::error!(
                user_id,
                "a TOTP secret does not decrypt: was the server key changed?"
            );
            AppError::Internal
        })
}

/// The profile panel's view; `host` is where the page was opened (for whether passkeys can be
/// offered there).
pub async fn status(
    state: &AppState,
    user_id: i64,
    host: Option<&str>,
) -> Result<TwoFactorStatus, AppError> {
    let row = load(state, user_id).await?;
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(TwoFactorStatus {
        enabled: row.two_factor_at.is_some(),
        app: row.totp_enabled_at.is_some(),
        passkeys: crate::two_factor::passkeys::server::list(state, user_id).await?,
        passkeys_unavailable: crate::two_factor::passkeys::server::unavailable_at(state, host),
        recovery_codes_left: left,
        required_by: policy::orgs_requiring(state, user_id).await?,
        keys_required_by: policy::orgs_requiring_at_least(
            state,
            user_id,
            super::model::PolicyLevel::SecurityKeys,
        )
        .await?,
    })
}

/// Makes a new secret for the user to add to their app; 2FA is on only after [`confirm`].
pub async fn start(state: &AppState, user_id: i64, email: &str) -> Result<Enrollment, AppError> {
    if load(state, user_id).await?.totp_enabled_at.is_some() {
        return Err(AppError::conflict(
            "two_factor",
            "Your authenticator app is already set up.",
        ));
    }
    let mut secret = [0u8; totp::SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let sealed = state.secret_key.encrypt(&secret, &secret_context(user_id));
    sqlx::query("UPDATE users SET totp_pending_secret = $1 WHERE id = $2")
        .bind(&sealed)
        .bind(user_id)
        .execute(&state.db.pool)
        .await?;
    let b32 = totp::base32(&secret);
    let uri = totp::otpauth_uri(email, &b32);
    Ok(Enrollment {
        secret: totp::grouped(&b32),
        qr_svg: totp::qr_svg(&uri).unwrap_or_default(),
        otpauth_uri: uri,
    })
}

/// Turns 2FA on when `code` is a current code of the pending secret; returns the recovery codes.
pub async fn confirm(
    state: &AppState,
    user_id: i64,
    code: &str,
    ip: Option<String>,
) -> Result<RecoveryCodes, AppError> {
    let row = load(state, user_id).await?;
    if row.totp_enabled_at.is_some() {
        return Err(AppError::conflict(
            "two_factor",
            "Your authenticator app is already set up.",
        ));
    }
    let pending = row.totp_pending_secret.ok_or_else(|| {
        AppError::invalid(
            "code",
            "Start again: choose Enable two-factor authentication.",
        )
    })?;
    let secret = decrypt_secret(state, user_id, &pending)?;
    reserve_attempt(state, user_id).await?;
    let Some(step) = totp::matching_step(&secret, totp::DIGITS, &normalize(code), state.now(), 0)
    else {
        return Err(record_failure(state, user_id).await?);
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // Only the pending secret that was checked becomes the secret (not one a concurrent
    // Enable replaced in between).
    let done = sqlx::query(
        "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                totp_enabled_at = $1, totp_last_step = $2,
                two_factor_at = COALESCE(two_factor_at, $1),
                second_factor_failures = CASE WHEN second_factor_locked_until = 0 THEN 0
                    ELSE second_factor_failures END
         WHERE id = $3 AND totp_pending_secret = $4 AND totp_enabled_at IS NULL",
    )
    .bind(now)
    .bind(step)
    .bind(user_id)
    .bind(&pending)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::conflict(
            "two_factor",
            "Two-factor setup changed in another window. Start again.",
        ));
    }
    let codes = replace_recovery_codes(state, &mut tx, user_id).await?;
    let details = serde_json::json!({ "method": "app" });
    record_for_user(
        &mut tx,
        state,
        user_id,
        "user.two_factor_enabled",
        ip,
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Replaces the recovery codes; needs a current code from the app.
pub async fn regenerate(
    state: &AppState,
    user_id: i64,
    code: &str,
    ip: Option<String>,
) -> Result<RecoveryCodes, AppError> {
    // With an app, a current code; with security keys or passkeys only, the confirmed access
    // (checked by the caller) is the proof.
    let row = load(state, user_id).await?;
    if row.totp_enabled_at.is_some() {
        verify(state, user_id, code, false).await?;
    } else if row.two_factor_at.is_none() {
        return Err(AppError::conflict(
            "two_factor",
            "Two-factor authentication is not on.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let codes = replace_recovery_codes(state, &mut tx, user_id).await?;
    record_for_user(
        &mut tx,
        state,
        user_id,
        "user.recovery_codes_regenerated",
        ip,
        serde_json::Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Removes the authenticator app (the caller has checked the password). When it is the last
/// second factor, 2FA is off: refused while an organization of the user requires 2FA, and the
/// recovery codes and the user's other sessions end with it. With a security key or passkey
/// left, only the app goes.
pub async fn disable(
    state: &AppState,
    session: &crate::auth::server::Session,
    code: &str,
    ip: Option<String>,
) -> Result<(), AppError> {
    let user_id = session.user_id;
    // Said before a code is used up; decided again below, under the lock.
    if crate::two_factor::passkeys::server::count(&state.db.pool, user_id).await? == 0 {
        refuse_if_required(state, user_id).await?;
    }
    verify(state, user_id, code, false).await?;
    let mut tx = state.db.begin().await?;
    // Decided under the user's row lock, as removing a passkey is: a key removed at the same
    // moment cannot leave 2FA on with no factor.
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let last = crate::two_factor::passkeys::server::count(&mut *tx, user_id).await? == 0;
    if last {
        refuse_if_required(state, user_id).await?;
        remove_factors(&mut tx, user_id).await?;
        // A session opened with the second factor should not outlive it.
        crate::auth::server::store::end_other_sessions(&mut tx, user_id, &session.id_hash).await?;
        let details = serde_json::Value::Null;
        record_for_user(
            &mut tx,
            state,
            user_id,
            "user.two_factor_disabled",
            ip,
            details,
        )
        .await?;
    } else {
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL,
                              totp_enabled_at = NULL, totp_last_step = 0
             WHERE id = $1",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let details = serde_json::Value::Null;
        record_for_user(&mut tx, state, user_id, "user.totp_removed", ip, details).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// 2FA cannot be turned off while an organization of the user requires it.
async fn refuse_if_required(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let requiring = policy::orgs_requiring(state, user_id).await?;
    if requiring.is_empty() {
        return Ok(());
    }
    Err(AppError::conflict(
        "two_factor",
        format!(
            "{} requires two-factor authentication, so it cannot be turned off while you are a member.",
            requiring.join(", ")
        ),
    ))
}

/// What a reset of someone's second factors removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorsReset {
    pub recovery_codes_removed: i64,
    pub sessions_ended: u64,
}

/// A reset by someone else (an Owner, or the instance operator): every factor goes and every
/// session of the user ends, since a session opened with the lost factor should not outlive it.
pub async fn reset_factors(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
) -> Result<FactorsReset, AppError> {
    let recovery_codes_removed = remove_factors(tx, user_id).await?;
    let sessions_ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    Ok(FactorsReset {
        recovery_codes_removed,
        sessions_ended,
    })
}

/// Checks a second factor: a current TOTP code, or (when `allow_recovery`) an unused recovery
/// code, which is then gone. Five failures in a row lock checks for 15 minutes. Answers
/// which of the two it was.
pub async fn verify(
    state: &AppState,
    user_id: i64,
    code: &str,
    allow_recovery: bool,
) -> Result<Method, AppError> {
    let row = load(state, user_id).await?;
    if row.two_factor_at.is_none() {
        return Err(AppError::conflict(
            "two_factor",
            "Two-factor authentication is not on.",
        ));
    }
    let code = normalize(code);
    if code.len() == totp::DIGITS && row.totp_secret.is_none() {
        return Err(AppError::invalid(
            "code",
            "You have no authenticator app: use your security key or passkey, or a recovery code.",
        ));
    }
    reserve_attempt(state, user_id).await?;
    let is_app_code = code.len() == totp::DIGITS;
    let accepted =
        if let (true, Some(stored)) = (is_app_code, row.totp_secret.as_deref()) {
            let secret = decrypt_secret(state, user_id, stored)?;
            match totp::matching_step(
                &secret,
                totp::DIGITS,
                &code,
                state.now(),
                row.totp_last_step,
            ) {
                // Moving the last step forward only if it is still behind: of two concurrent
                // uses of one code, one wins.
                Some(step) => sqlx::query(
                    "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
                )
                .bind(step)
                .bind(user_id)
                .execute(&state.db.pool)
                .await?
                .rows_affected()
                    == 1,
                None => false,
            }
        } else if allow_recovery && code.len() == RECOVERY_LEN {
            // Deleting is the check: a code can be used once, even by two requests at once.
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
                .bind(user_id)
                .bind(recovery_hash(state, user_id, &code))
                .execute(&state.db.pool)
                .await?
                .rows_affected()
                == 1
        } else {
            false
        };
    if !accepted {
        return Err(record_failure(state, user_id).await?);
    }
    clear_failures(state, user_id).await?;
    Ok(if is_app_code {
        Method::App
    } else {
        Method::RecoveryCode
    })
}

/// A password-checked sign-in waiting for its second step: returns the token for its cookie.
pub async fn start_challenge(
    state: &AppState,
    user_id: i64,
    next: Option<&str>,
) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let now = state.now();
    // Only the newest half-done sign-in of a user counts; stale ones go.
    sqlx::query("DELETE FROM sign_in_challenges WHERE user_id = $1 OR expires_at <= $2")
        .bind(user_id)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO sign_in_challenges (id_hash, user_id, next_path, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(crate::auth::server::token_hash(&token))
    .bind(user_id)
    .bind(next)
    .bind(now + CHALLENGE_SECS)
    .execute(&state.db.pool)
    .await?;
    Ok(token)
}

/// The user and `next` of a live challenge.
pub async fn find_challenge(
    state: &AppState,
    token: &str,
) -> Result<Option<(i64, Option<String>)>, AppError> {
    let row: Option<(i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT user_id, next_path, expires_at FROM sign_in_challenges WHERE id_hash = $1",
    )
    .bind(crate::auth::server::token_hash(token))
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row
        .filter(|(_, _, expires_at)| *expires_at > state.now())
        .map(|(user_id, next, _)| (user_id, next)))
}

/// The end of a second step that succeeded with `factor`: the challenge and its cookie go,
/// the session starts (an SSO session if the first step was the provider) with both steps as
/// its methods, the sign-in is audited in each of the person's organizations. Answers where
/// to go next, checked again here where it is used (it was checked when the challenge was
/// stored), and whether the first step was a password.
pub async fn complete_sign_in(
    state: &AppState,
    meta: &crate::auth::server::RequestMeta,
    user_id: i64,
    token: &str,
    next: Option<String>,
    factor: Method,
) -> Result<(String, bool), AppError> {
    use crate::auth::server as auth;
    let sso: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT sso_org_id FROM sign_in_challenges WHERE id_hash = $1")
            .bind(auth::token_hash(token))
            .fetch_optional(&state.db.pool)
            .await?;
    let sso_org_id = sso.and_then(|(org,)| org);
    end_challenge(state, token).await?;
    auth::set_cookie(state, auth::CHALLENGE_COOKIE, "", 0);
    let first = if sso_org_id.is_some() {
        Method::Sso
    } else {
        Method::Password
    };
    let proof = Proof::new(&[first, factor], sso_org_id);
    let session = auth::open_session(state, meta, user_id, sso_org_id, &proof).await?;
    auth::set_cookie(
        state,
        auth::SESSION_COOKIE,
        &session,
        state.settings.session_absolute.as_secs(),
    );
    let mut tx = state.db.begin().await?;
    crate::audit::record_for_user(
        &mut tx,
        state,
        user_id,
        crate::audit::Event::new("user.sign_in_second_factor", format!("user:{user_id}"))
            .actor(user_id)
            .ip(meta.ip.clone())
            .details(serde_json::json!({ "methods": proof.stored() })),
    )
    .await?;
    tx.commit().await?;
    let next = next
        .as_deref()
        .and_then(auth::local_redirect)
        .unwrap_or_else(|| "/".to_string());
    Ok((next, sso_org_id.is_none()))
}

pub async fn end_challenge(state: &AppState, token: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sign_in_challenges WHERE id_hash = $1")
        .bind(crate::auth::server::token_hash(token))
        .execute(&state.db.pool)
        .await?;
    Ok(())
}
