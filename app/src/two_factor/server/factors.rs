//! What every second factor shares: whether a user has one, the run of failed checks and its
//! lock, recovery codes, removing them all, and auditing a user's own change. Below the
//! authenticator app (`super`), security keys and passkeys, and the policy, which all use it.

use super::super::model::RecoveryCodes;
use crate::error::AppError;
use crate::state::AppState;
use rand::Rng;

/// Consecutive failed second-factor checks before checks pause...
pub const MAX_FAILURES: i64 = 5;

/// ...for this long.
pub const LOCK_SECS: i64 = 15 * 60;

pub const RECOVERY_CODE_COUNT: usize = 10;

/// No 0/o, 1/l/i: recovery codes are read off paper.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

pub(super) const RECOVERY_LEN: usize = 10;

#[derive(sqlx::FromRow)]
pub(super) struct TotpRow {
    pub totp_secret: Option<String>,
    pub totp_pending_secret: Option<String>,
    pub totp_enabled_at: Option<i64>,
    pub totp_last_step: i64,
    /// Since when the user has had any second factor (an app, a security key or passkey).
    pub two_factor_at: Option<i64>,
}

pub(super) async fn load(state: &AppState, user_id: i64) -> Result<TotpRow, AppError> {
    sqlx::query_as(
        "SELECT totp_secret, totp_pending_secret, totp_enabled_at, totp_last_step, two_factor_at
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(AppError::Unauthenticated)
}

/// Whether the user has any second factor: 2FA is on.
pub async fn is_enabled(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    Ok(load(state, user_id).await?.two_factor_at.is_some())
}

/// Whether the user has an authenticator app (codes can be asked for).
pub async fn has_app(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    Ok(load(state, user_id).await?.totp_enabled_at.is_some())
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
pub(super) fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

pub(super) fn locked(until: i64, now: i64) -> AppError {
    AppError::SecondFactorLocked {
        until: crate::dates::date_time(until),
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
    let mut tx = state.db.begin().await?;
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

pub(super) fn recovery_hash(state: &AppState, user_id: i64, code: &str) -> String {
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
