//! Server side of security keys and passkeys: the relying party, the registration and sign-in
//! ceremonies (webauthn-rs checks every signature, counter and flag), and the credentials kept
//! per user. A ceremony's state waits in the database between its two steps and is taken out
//! of it by the step that uses it, so an answer can be used once.

use super::model::{PasskeyEntry, CEREMONY_SECS, MAX_PER_USER};
use crate::domain::PasskeyName;
use crate::error::AppError;
use crate::state::AppState;
use crate::two_factor::model::RecoveryCodes;
use crate::two_factor::server::factors as two_factor;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder, WebauthnError,
};

/// The relying party for Gatehouse's address (`--public-url`, else the address it serves):
/// never a request's `Host`, which a phishing proxy would choose. Browsers allow WebAuthn on a
/// domain name only (`localhost` included), never on an IP address.
pub fn relying_party(base_url: &str) -> Result<Webauthn, String> {
    let origin = Url::parse(base_url).map_err(|e| format!("{base_url} is not a URL ({e})"))?;
    let rp_id = origin.domain().ok_or_else(|| {
        format!(
            "{base_url} is an IP address, and browsers offer security keys and passkeys only on \
             a domain name: use a name such as https://gatehouse.example.com (or http://localhost \
             on this machine)"
        )
    })?;
    WebauthnBuilder::new(rp_id, &origin)
        .and_then(|b| b.rp_name("Gatehouse").build())
        .map_err(|e| format!("{base_url} cannot be a WebAuthn relying party ({e})"))
}

/// Ceremony options as the JSON the browser's `PublicKeyCredential.parse…OptionsFromJSON`
/// reads. Absent members are left out rather than sent as `null`, which the browser's
/// dictionary conversion refuses.
pub fn options_json(options: &impl serde::Serialize) -> Result<String, AppError> {
    fn without_nulls(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(without_nulls);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(without_nulls),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(options).map_err(|_| AppError::Internal)?;
    without_nulls(&mut value);
    Ok(value.to_string())
}

fn webauthn(state: &AppState) -> Result<Webauthn, AppError> {
    relying_party(&state.base_url()).map_err(|why| {
        AppError::conflict(
            "passkey",
            format!("Security keys and passkeys are not available here: {why}."),
        )
    })
}

/// Why a page opened at `host` cannot offer security keys and passkeys, if it cannot: the
/// relying party is an IP address, or the page was opened at another address than
/// Gatehouse's own (the browser would refuse the ceremony there).
pub fn unavailable_at(state: &AppState, host: Option<&str>) -> Option<String> {
    let base = state.base_url();
    let origin = match relying_party(&base) {
        Ok(_) => Url::parse(&base).ok()?,
        Err(why) => {
            return Some(format!(
                "Security keys and passkeys are not available: {why}."
            ))
        }
    };
    let host = host?;
    let expected = match origin.port() {
        Some(port) => format!("{}:{port}", origin.host_str().unwrap_or_default()),
        None => origin.host_str().unwrap_or_default().to_string(),
    };
    (host != expected).then(|| {
        format!(
            "Security keys and passkeys work only at {base}/ (this page was opened at {host}): open Gatehouse there to add or use one."
        )
    })
}

/// The user handle the authenticator stores: stable per user, and no database id or email
/// (an authenticator may show or share it).
fn user_handle(state: &AppState, user_id: i64) -> Uuid {
    let digest = state
        .secret_key
        .keyed_hash("webauthn-user-handle", &user_id.to_string());
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    Uuid::from_bytes(bytes)
}

#[derive(sqlx::FromRow)]
struct PasskeyRow {
    id: i64,
    name: String,
    credential: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

async fn rows(
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    user_id: i64,
) -> Result<Vec<PasskeyRow>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, name, credential, created_at, last_used_at FROM passkeys
         WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

fn parse_credential(row: &PasskeyRow) -> Result<Passkey, AppError> {
    serde_json::from_str(&row.credential).map_err(|e| {
        tracing::error!(passkey = row.id, error = %e, "a stored passkey does not parse");
        AppError::Internal
    })
}

/// The user's security keys and passkeys, oldest first.
pub async fn list(state: &AppState, user_id: i64) -> Result<Vec<PasskeyEntry>, AppError> {
    Ok(rows(&state.db.pool, user_id)
        .await?
        .into_iter()
        .map(|r| PasskeyEntry {
            id: r.id,
            name: r.name,
            added: crate::dates::iso_date(r.created_at),
            last_used: r.last_used_at.map(crate::dates::iso_date),
        })
        .collect())
}

pub async fn count(
    db: impl sqlx::Executor<'_, Database = sqlx::Any>,
    user_id: i64,
) -> Result<i64, AppError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await?;
    Ok(n)
}

/// First step of **Add a security key or passkey**: the options for the browser's
/// `navigator.credentials.create`. Credentials already registered are excluded, so an
/// authenticator is not registered twice.
pub async fn start_registration(
    state: &AppState,
    user_id: i64,
    email: &str,
    person: &str,
) -> Result<CreationChallengeResponse, AppError> {
    let webauthn = webauthn(state)?;
    let existing = rows(&state.db.pool, user_id).await?;
    if existing.len() as i64 >= MAX_PER_USER {
        return Err(AppError::conflict(
            "name",
            format!("You have {MAX_PER_USER} security keys and passkeys, the most there can be. Remove one first."),
        ));
    }
    let exclude = existing
        .iter()
        .map(|r| parse_credential(r).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, registration) = webauthn
        .start_passkey_registration(user_handle(state, user_id), email, person, Some(exclude))
        .map_err(|e| {
            tracing::error!(error = %e, "starting a passkey registration failed");
            AppError::Internal
        })?;
    let stored = serde_json::to_string(&registration).map_err(|_| AppError::Internal)?;
    sqlx::query(
        "UPDATE users SET passkey_registration = $1, passkey_registration_expires_at = $2
         WHERE id = $3",
    )
    .bind(stored)
    .bind(state.now() + CEREMONY_SECS)
    .bind(user_id)
    .execute(&state.db.pool)
    .await?;
    Ok(options)
}

fn unreadable() -> AppError {
    AppError::invalid(
        "passkey",
        "Your browser's answer could not be read. Try again.",
    )
}

/// Second step: checks the browser's answer against the stored ceremony and keeps the new
/// credential. When it is the person's first second factor, 2FA is now on and the answer
/// carries their recovery codes, shown once.
pub async fn finish_registration(
    state: &AppState,
    user_id: i64,
    name: &PasskeyName,
    credential: &str,
    ip: Option<String>,
) -> Result<Option<RecoveryCodes>, AppError> {
    let answer: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| unreadable())?;
    let webauthn = webauthn(state)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let start_again = || {
        AppError::invalid(
            "passkey",
            "This registration has expired or was started again elsewhere. Start again.",
        )
    };
    let (stored, expires_at, had_factor): (Option<String>, i64, Option<i64>) = sqlx::query_as(
        "SELECT passkey_registration, passkey_registration_expires_at, two_factor_at
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let stored = stored
        .filter(|_| expires_at > now)
        .ok_or_else(start_again)?;
    // Taking the state out is the check that it is used once, even by two requests at once.
    let taken = sqlx::query(
        "UPDATE users SET passkey_registration = NULL WHERE id = $1 AND passkey_registration = $2",
    )
    .bind(user_id)
    .bind(&stored)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(start_again());
    }
    let registration: PasskeyRegistration =
        serde_json::from_str(&stored).map_err(|_| AppError::Internal)?;
    let passkey = webauthn
        .finish_passkey_registration(&answer, &registration)
        .map_err(|e| {
            AppError::invalid(
                "passkey",
                format!("This security key or passkey could not be registered ({e}). Try again."),
            )
        })?;
    let credential_id = hex::encode(passkey.cred_id());
    let (taken_elsewhere,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE credential_id = $1")
            .bind(&credential_id)
            .fetch_one(&mut *tx)
            .await?;
    if taken_elsewhere > 0 {
        return Err(AppError::conflict(
            "passkey",
            "This security key or passkey is already registered.",
        ));
    }
    sqlx::query(
        "INSERT INTO passkeys (user_id, credential_id, name, credential, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(&credential_id)
    .bind(name.as_str())
    .bind(serde_json::to_string(&passkey).map_err(|_| AppError::Internal)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE users SET two_factor_at = COALESCE(two_factor_at, $1),
                          passkey_at = COALESCE(passkey_at, $1)
         WHERE id = $2",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let codes = if had_factor.is_none() {
        let codes = two_factor::replace_recovery_codes(state, &mut tx, user_id).await?;
        two_factor::record_for_user(
            &mut tx,
            state,
            user_id,
            "user.two_factor_enabled",
            ip.clone(),
            serde_json::json!({ "method": "passkey" }),
        )
        .await?;
        Some(codes)
    } else {
        None
    };
    two_factor::record_for_user(
        &mut tx,
        state,
        user_id,
        "user.passkey_added",
        ip,
        serde_json::json!({ "name": name.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

pub async fn rename(
    state: &AppState,
    user_id: i64,
    id: i64,
    name: &PasskeyName,
    ip: Option<String>,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
        .bind(name.as_str())
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    two_factor::record_for_user(
        &mut tx,
        state,
        user_id,
        "user.passkey_renamed",
        ip,
        serde_json::json!({ "passkey": id, "name": name.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes one of the person's security keys or passkeys (the caller checked the password).
/// The last second factor goes by the rules of turning 2FA off: refused while an organization
/// requires 2FA, proved with a current factor (`assertion`: a touch of this key, answering
/// [`start_verification`]), and it takes the recovery codes and every other session with it.
///
/// Whether this is the last factor is decided inside the transaction that removes it, under
/// the user's row lock: two removals at once of the last two keys take turns, and the second
/// finds itself removing the last one (without the touch that needs, it is refused), instead
/// of both passing and leaving 2FA on with no factor.
pub async fn remove(
    state: &AppState,
    session: &crate::auth::server::Session,
    id: i64,
    assertion: Option<&str>,
    ip: Option<String>,
) -> Result<(), AppError> {
    let user_id = session.user_id;
    let name: Option<(String,)> =
        sqlx::query_as("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&state.db.pool)
            .await?;
    let (name,) = name.ok_or(AppError::NotFound)?;
    // A touch, when the person's page sent one, is checked first: the check writes to the
    // user's row, which the transaction below locks.
    let touched = match assertion {
        Some(assertion) => {
            check_verification(state, user_id, assertion, ip.clone()).await?;
            true
        }
        None => false,
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let remaining = count(&mut *tx, user_id).await?;
    let (app,): (Option<i64>,) = sqlx::query_as("SELECT totp_enabled_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    let last_passkey = remaining == 1;
    let last = last_passkey && app.is_none();
    if last_passkey {
        let (level, what) = if last {
            (
                crate::two_factor::model::PolicyLevel::Any,
                "two-factor authentication: add another security key, passkey or authenticator app",
            )
        } else {
            (
                crate::two_factor::model::PolicyLevel::SecurityKeys,
                "a security key or passkey: add another",
            )
        };
        let requiring =
            crate::two_factor::server::policy::orgs_requiring_at_least(state, user_id, level)
                .await?;
        if !requiring.is_empty() {
            return Err(AppError::conflict(
                "passkey",
                format!(
                    "{} requires {what} before removing your last one.",
                    requiring.join(", ")
                ),
            ));
        }
    }
    if last && !touched {
        return Err(AppError::invalid(
            "passkey",
            "Removing your last security key or passkey turns two-factor authentication off: confirm with a touch of it.",
        ));
    }
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    if last_passkey {
        sqlx::query("UPDATE users SET passkey_at = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    two_factor::record_for_user(
        &mut tx,
        state,
        user_id,
        "user.passkey_removed",
        ip.clone(),
        serde_json::json!({ "passkey": id, "name": name }),
    )
    .await?;
    if last {
        two_factor::remove_factors(&mut tx, user_id).await?;
        crate::auth::server::store::end_other_sessions(&mut tx, user_id, &session.id_hash).await?;
        two_factor::record_for_user(
            &mut tx,
            state,
            user_id,
            "user.two_factor_disabled",
            ip,
            serde_json::Value::Null,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A signed-in person proves they hold one of their keys: the options for
/// `navigator.credentials.get`, answered to [`check_verification`].
pub async fn start_verification(
    state: &AppState,
    user_id: i64,
) -> Result<RequestChallengeResponse, AppError> {
    let (options, authentication) = start_authentication(state, user_id).await?;
    sqlx::query(
        "UPDATE users SET passkey_assertion = $1, passkey_assertion_expires_at = $2 WHERE id = $3",
    )
    .bind(authentication)
    .bind(state.now() + CEREMONY_SECS)
    .bind(user_id)
    .execute(&state.db.pool)
    .await?;
    Ok(options)
}

pub async fn check_verification(
    state: &AppState,
    user_id: i64,
    credential: &str,
    ip: Option<String>,
) -> Result<(), AppError> {
    let start_again = || {
        AppError::invalid(
            "passkey",
            "This confirmation has expired or was used. Try again.",
        )
    };
    let (stored, expires_at): (Option<String>, i64) = sqlx::query_as(
        "SELECT passkey_assertion, passkey_assertion_expires_at FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(&state.db.pool)
    .await?;
    let stored = stored
        .filter(|_| expires_at > state.now())
        .ok_or_else(start_again)?;
    let taken = sqlx::query(
        "UPDATE users SET passkey_assertion = NULL WHERE id = $1 AND passkey_assertion = $2",
    )
    .bind(user_id)
    .bind(&stored)
    .execute(&state.db.pool)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(start_again());
    }
    check_assertion(state, user_id, &stored, credential, ip).await
}

/// The options for `navigator.credentials.get` over all the user's credentials, and the
/// state to keep for the answer (as JSON).
async fn start_authentication(
    state: &AppState,
    user_id: i64,
) -> Result<(RequestChallengeResponse, String), AppError> {
    let webauthn = webauthn(state)?;
    let passkeys = rows(&state.db.pool, user_id)
        .await?
        .iter()
        .map(parse_credential)
        .collect::<Result<Vec<_>, _>>()?;
    if passkeys.is_empty() {
        return Err(AppError::conflict(
            "passkey",
            "You have no security key or passkey. Use a code instead.",
        ));
    }
    let (options, authentication) =
        webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| {
                tracing::error!(error = %e, "starting a passkey authentication failed");
                AppError::Internal
            })?;
    let stored = serde_json::to_string(&authentication).map_err(|_| AppError::Internal)?;
    Ok((options, stored))
}

/// First step of signing in with a security key or passkey: the options for the browser's
/// `navigator.credentials.get`, for the sign-in waiting on its second step (`token`).
pub async fn start_sign_in(
    state: &AppState,
    user_id: i64,
    token: &str,
) -> Result<RequestChallengeResponse, AppError> {
    let (options, authentication) = start_authentication(state, user_id).await?;
    sqlx::query("UPDATE sign_in_challenges SET passkey_state = $1 WHERE id_hash = $2")
        .bind(authentication)
        .bind(crate::auth::server::token_hash(token))
        .execute(&state.db.pool)
        .await?;
    Ok(options)
}

/// Second step: checks the browser's signed answer. Failures count towards the same lockout as
/// wrong codes. A signature counter that went back (a copied authenticator) is refused and
/// audited.
pub async fn finish_sign_in(
    state: &AppState,
    user_id: i64,
    token: &str,
    credential: &str,
    ip: Option<String>,
) -> Result<(), AppError> {
    // Unreadable answers are refused before the ceremony is used up.
    serde_json::from_str::<PublicKeyCredential>(credential).map_err(|_| unreadable())?;
    let token_hash = crate::auth::server::token_hash(token);
    let start_again = || {
        AppError::invalid(
            "passkey",
            "Start again: choose Use your security key or passkey.",
        )
    };
    let stored: Option<(Option<String>,)> =
        sqlx::query_as("SELECT passkey_state FROM sign_in_challenges WHERE id_hash = $1")
            .bind(&token_hash)
            .fetch_optional(&state.db.pool)
            .await?;
    let stored = stored.and_then(|(s,)| s).ok_or_else(start_again)?;
    // One answer per ceremony: a replayed or concurrent second use finds the state gone.
    let taken = sqlx::query(
        "UPDATE sign_in_challenges SET passkey_state = NULL WHERE id_hash = $1 AND passkey_state = $2",
    )
    .bind(&token_hash)
    .bind(&stored)
    .execute(&state.db.pool)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(start_again());
    }
    check_assertion(state, user_id, &stored, credential, ip).await
}

/// Checks a signed answer against the ceremony state it belongs to (taken out of storage by
/// the caller) and keeps the key's new counter. Counted towards the second-factor lockout.
async fn check_assertion(
    state: &AppState,
    user_id: i64,
    stored: &str,
    credential: &str,
    ip: Option<String>,
) -> Result<(), AppError> {
    let answer: PublicKeyCredential = serde_json::from_str(credential).map_err(|_| unreadable())?;
    let webauthn = webauthn(state)?;
    let authentication: PasskeyAuthentication =
        serde_json::from_str(stored).map_err(|_| AppError::Internal)?;
    two_factor::reserve_attempt(state, user_id).await?;
    let result = match webauthn.finish_passkey_authentication(&answer, &authentication) {
        Ok(result) => result,
        Err(err) => {
            let failure = two_factor::record_failure(state, user_id).await?;
            if matches!(failure, AppError::SecondFactorLocked { .. }) {
                return Err(failure);
            }
            if matches!(err, WebauthnError::CredentialPossibleCompromise) {
                return Err(counter_went_back(state, user_id, &answer, ip).await?);
            }
            return Err(AppError::invalid(
                "passkey",
                "That security key or passkey was not accepted. Try again, or use a code.",
            ));
        }
    };
    let credential_id = hex::encode(result.cred_id());
    let row: Option<PasskeyRow> = sqlx::query_as(
        "SELECT id, name, credential, created_at, last_used_at FROM passkeys
         WHERE user_id = $1 AND credential_id = $2",
    )
    .bind(user_id)
    .bind(&credential_id)
    .fetch_optional(&state.db.pool)
    .await?;
    // Removed between the two steps.
    let row = row.ok_or_else(|| {
        AppError::invalid(
            "passkey",
            "That security key or passkey was removed meanwhile.",
        )
    })?;
    let mut passkey = parse_credential(&row)?;
    passkey.update_credential(&result);
    sqlx::query(
        "UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3 AND user_id = $4",
    )
    .bind(serde_json::to_string(&passkey).map_err(|_| AppError::Internal)?)
    .bind(state.now())
    .bind(row.id)
    .bind(user_id)
    .execute(&state.db.pool)
    .await?;
    two_factor::clear_failures(state, user_id).await?;
    Ok(())
}

/// The answer to a signature counter that went back, audited in the person's organizations.
async fn counter_went_back(
    state: &AppState,
    user_id: i64,
    answer: &PublicKeyCredential,
    ip: Option<String>,
) -> Result<AppError, AppError> {
    let credential_id = hex::encode(answer.get_credential_id());
    let name: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user_id)
            .bind(&credential_id)
            .fetch_optional(&state.db.pool)
            .await?;
    tracing::warn!(user_id, "a passkey's signature counter went back: refused");
    let mut tx = state.db.begin().await?;
    two_factor::record_for_user(
        &mut tx,
        state,
        user_id,
        "user.passkey_counter_regressed",
        ip,
        serde_json::json!({
            "passkey": name.as_ref().map(|(id, _)| *id),
            "name": name.as_ref().map(|(_, n)| n.clone()),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(AppError::invalid(
        "passkey",
        "This security key or passkey was refused: its signature counter went back, which happens when an authenticator has been copied. Sign in another way, and remove it from your profile if you do not know why.",
    ))
}
