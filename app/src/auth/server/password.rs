//! argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1), run on the blocking pool
//! by the [`HashingPool`](super::hashing::HashingPool) so hashing cannot starve the async
//! workers.

use super::hashing::Purpose;
use crate::domain::Password;
use crate::error::AppError;
use crate::state::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn hasher() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| {
        tracing::error!(error = %e, "argon2 parameters");
        AppError::Internal
    })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "argon2 hashing failed");
            AppError::Internal
        })
}

/// Marks an account made through single sign-on: no password signs in to it (argon2 hashes
/// start `$`).
pub const NO_PASSWORD: &str = "!sso";

pub async fn hash(state: &AppState, password: Password) -> Result<String, AppError> {
    state
        .hashing
        .run(Purpose::NewPassword, move || {
            hash_blocking(password.expose())
        })
        .await?
}

/// A hash of a random password, verified against when the email is unknown so that the
/// answer takes as long as for a known email.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking("gatehouse-dummy-password-for-timing").unwrap_or_else(|_| {
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()
        })
    })
}

/// Verifies `password` against `stored`; with no stored hash, verifies against a dummy and
/// returns false.
pub async fn verify(
    state: &AppState,
    password: &str,
    stored: Option<String>,
) -> Result<bool, AppError> {
    let password = password.to_string();
    let result = state.hashing.run(Purpose::Verify, move || {
        // An account made through single sign-on has no password: nothing signs in to it,
        // and it costs the same time as any other refusal.
        let known = stored.as_deref().is_some_and(|s| s != NO_PASSWORD);
        let stored = stored
            .filter(|_| known)
            .unwrap_or_else(|| dummy_hash().to_string());
        let ok = match PasswordHash::new(&stored) {
            Ok(parsed) => hasher()
                .map(|h| h.verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false),
            Err(e) => {
                tracing::error!(error = %e, "stored password hash does not parse");
                false
            }
        };
        known && ok
    });
    result.await
}
