//! argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1), run on the blocking pool
//! under a semaphore so hashing cannot starve the async workers.

use crate::domain::Password;
use crate::error::AppError;
use crate::state::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

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

/// What a hash is for: each kind has its own bound on how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Checking a password (sign-in, confirming access, turning 2FA off).
    Verify,
    /// Hashing a new password (sign-up, accepting an invitation, changing the password).
    NewPassword,
}

/// Runs argon2 at most once per core at a time, and bounds the queue in front of it: a hash
/// that would have to wait behind too many others is refused at once with 503 and
/// `Retry-After`, instead of piling up until requests time out. New passwords (reachable
/// without an account) have a small queue of their own, so a flood of sign-ups or invitation
/// acceptances never stands in front of more than a few hashes' time of people signing in.
pub struct HashingPool {
    permits: Semaphore,
    verify_waiting: AtomicUsize,
    new_waiting: AtomicUsize,
}

/// Hashes allowed to wait, per purpose.
const MAX_VERIFY_WAITING: usize = 64;
const MAX_NEW_WAITING: usize = 8;

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashingPool {
    pub fn new(parallel: usize) -> Self {
        Self {
            permits: Semaphore::new(parallel.max(1)),
            verify_waiting: AtomicUsize::new(0),
            new_waiting: AtomicUsize::new(0),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        purpose: Purpose,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (counter, max) = match purpose {
            Purpose::Verify => (&self.verify_waiting, MAX_VERIFY_WAITING),
            Purpose::NewPassword => (&self.new_waiting, MAX_NEW_WAITING),
        };
        // Counted before waiting: the bound holds however many arrive at once.
        if counter.fetch_add(1, Ordering::SeqCst) >= max {
            counter.fetch_sub(1, Ordering::SeqCst);
            return Err(AppError::Busy {
                retry_after_secs: 1,
            });
        }
        let waiting = Waiting(counter);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::Internal)?;
        drop(waiting);
        Ok(tokio::task::spawn_blocking(work).await?)
    }
}

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
        let known = stored
            .as_deref()
            .is_some_and(|s| s != crate::sso::server::NO_PASSWORD);
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
