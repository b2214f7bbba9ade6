//! The pool password hashes run in: at most one per core at a time, with a bounded queue.
//! Part of the application's state, so below it: it knows nothing of accounts.

use crate::error::AppError;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

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

    pub(super) async fn run<T: Send + 'static>(
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
