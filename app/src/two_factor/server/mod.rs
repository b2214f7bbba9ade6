//! Server side of 2FA: enrollment, verification (window, replay, lockout), recovery codes,
//! and the half-done sign-ins that wait for their second step.

pub mod policy;
pub mod totp;

use super::model::{Enrollment, RecoveryCodes, TwoFactorStatus};
use crate::auth::server::proof::{Method, Proof};
use crate::error::AppError;
use crate::state::AppState;
use rand::{Rng, RngCore};

/// Consecutive failed second-factor checks before checks pause...
pub const MAX_FAILURES: i64 = 5;
/// ...for this long.
pub const LOCK_SECS: i64 = 15 * 60;
/// How long a sign-in may wait between the password and the second step.
pub const CHALLENGE_SECS: i64 = 5 * 60;
pub const RECOVERY_CODE_COUNT: usize = 10;
/// No 0/o, 1/l/i: recovery codes are read off paper.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_LEN: usize = 10;

#[derive(sqlx::FromRow)]
struct TotpRow {
    totp_secret: Option<String>,
    totp_pending_secret: Option<String>,
    totp_enabled_at: Option<i64>,
    totp_last_step: i64,
    /// Since when the user has had any second factor (an app, a security key or passkey).
    two_factor_at: Option<i64>,
}

async fn load(state: &AppState, user_id: i64) -> Result<TotpRow, AppError> {
    sqlx::query_as(
        "SELECT totp_secret, totp_pending_secret, totp_enabled_at, totp_last_step, two_factor_at
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(AppError::Unauthenticated)
}

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

/// Whether the user has any second factor: 2FA is on.
pub async fn is_enabled(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    Ok(load(state, user_id).await?.two_factor_at.is_some())
}

/// Whether the user has an authenticator app (codes can be asked for).
pub async fn has_app(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    Ok(load(state, user_id).await?.totp_enabled_at.is_some())
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
    let mut tx = state.db.pool.begin().await?;
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
    let mut tx = state.db.pool.begin().await?;
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
    let mut tx = state.db.pool.begin().await?;
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

/// Removes every second factor of a user: the TOTP secret (also one being enrolled), the
/// security keys and passkeys, the recovery codes, a sign-in waiting for its second step, and
/// the run of failed checks.
/// Returns the recovery codes that were left. In the caller's transaction: turning 2FA off,
/// or a reset by an Owner or the instance operator.
pub async fn remove_factors(tx: &mut sqlx::AnyConnection, user_id: i64) -> Result<i64, AppError> {
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL,
                          totp_last_step = 0, second_factor_failures = 0,
                          second_factor_locked_until = 0, two_factor_at = NULL,
                          passkey_registration = NULL, passkey_at = NULL
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM sign_in_challenges WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(codes as i64)
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

/// A success ends the run of failures, but never lifts a lock that concurrent failures set
/// meanwhile.
pub(in crate::two_factor) async fn clear_failures(
    state: &AppState,
    user_id: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE users SET second_factor_failures = 0 WHERE id = $1 AND second_factor_locked_until = 0",
    )
    .bind(user_id)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// Codes are typed with spaces or dashes, and recovery codes in any case.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn locked(until: i64, now: i64) -> AppError {
    AppError::SecondFactorLocked {
        until: crate::orgs::server::date_time(until),
        retry_after_secs: (until - now).max(1) as u64,
    }
}

/// Counts one second-factor attempt for the account in one statement, before any code is
/// checked: of any number of concurrent attempts, at most [`MAX_FAILURES`] since the last
/// success are ever evaluated. Refused while the account is locked. A lock that has run out
/// starts a fresh count.
pub(in crate::two_factor) async fn reserve_attempt(
    state: &AppState,
    user_id: i64,
) -> Result<(), AppError> {
    let now = state.now();
    let reserved = sqlx::query(
        "UPDATE users SET
            second_factor_failures = CASE
                WHEN second_factor_locked_until <> 0 THEN 1
                ELSE second_factor_failures + 1 END,
            second_factor_locked_until = 0
         WHERE id = $1 AND (
            (second_factor_locked_until <> 0 AND second_factor_locked_until <= $2)
            OR (second_factor_locked_until = 0 AND second_factor_failures < $3))",
    )
    .bind(user_id)
    .bind(now)
    .bind(MAX_FAILURES)
    .execute(&state.db.pool)
    .await?;
    if reserved.rows_affected() == 1 {
        return Ok(());
    }
    let (locked_until,): (i64,) =
        sqlx::query_as("SELECT second_factor_locked_until FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&state.db.pool)
            .await?;
    // Not locked yet, but every remaining attempt is being checked right now: the answer
    // is the same lock those will set if they fail.
    let until = if locked_until > now {
        locked_until
    } else {
        now + LOCK_SECS
    };
    Err(locked(until, now))
}

/// A checked attempt failed: its count stands (see [`reserve_attempt`]); the attempt that
/// finds the count at the limit locks the account, once, and audits it. Returns the error to
/// answer: the wrong code, or the lock.
pub(in crate::two_factor) async fn record_failure(
    state: &AppState,
    user_id: i64,
) -> Result<AppError, AppError> {
    metrics::counter!("gatehouse_second_factor_failures_total").increment(1);
    let now = state.now();
    let mut tx = state.db.pool.begin().await?;
    let locked_now: Option<(i64,)> = sqlx::query_as(
        "UPDATE users SET second_factor_locked_until = $1
         WHERE id = $2 AND second_factor_failures >= $3 AND second_factor_locked_until = 0
         RETURNING second_factor_failures",
    )
    .bind(now + LOCK_SECS)
    .bind(user_id)
    .bind(MAX_FAILURES)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((failures,)) = locked_now {
        metrics::counter!("gatehouse_second_factor_lockouts_total").increment(1);
        crate::audit::record(
            &mut tx,
            state,
            crate::audit::Event::new("user.second_factor_locked", format!("user:{user_id}"))
                .actor(user_id)
                .details(serde_json::json!({ "failures": failures })),
        )
        .await?;
        tx.commit().await?;
        return Ok(locked(now + LOCK_SECS, now));
    }
    let (failures, locked_until): (i64, i64) = sqlx::query_as(
        "SELECT second_factor_failures, second_factor_locked_until FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if locked_until > now {
        return Ok(locked(locked_until, now));
    }
    Ok(AppError::invalid(
        "code",
        format!(
            "That code is not right. Use the current code from your authenticator app ({} tries left).",
            (MAX_FAILURES - failures).max(0)
        ),
    ))
}

fn recovery_hash(state: &AppState, user_id: i64, code: &str) -> String {
    state
        .secret_key
        .keyed_hash("recovery-code", &format!("{user_id}:{code}"))
}

pub(in crate::two_factor) async fn replace_recovery_codes(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
) -> Result<RecoveryCodes, AppError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let now = state.now();
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    while codes.len() < RECOVERY_CODE_COUNT {
        let raw: String = {
            let mut rng = rand::rngs::OsRng;
            (0..RECOVERY_LEN)
                .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
                .collect()
        };
        if codes.iter().any(|c: &String| normalize(c) == raw) {
            continue;
        }
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(recovery_hash(state, user_id, &raw))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        codes.push(format!("{}-{}", &raw[..5], &raw[5..]));
    }
    Ok(RecoveryCodes { codes })
}

/// A user's own 2FA change, in the audit log of each of their organizations.
pub(in crate::two_factor) async fn record_for_user(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    user_id: i64,
    action: &'static str,
    ip: Option<String>,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let mut event = crate::audit::Event::new(action, format!("user:{user_id}"))
        .actor(user_id)
        .ip(ip);
    if !details.is_null() {
        event = event.details(details);
    }
    crate::audit::record_for_user(tx, state, user_id, event).await
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
    let mut tx = state.db.pool.begin().await?;
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
