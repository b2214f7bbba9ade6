//! The per-key request budget of the REST API (429 + Retry-After beyond it).
//!
//! Counted in each server process's memory: a check costs nanoseconds instead of a database
//! write per request. With several replicas behind a load balancer a key may use up to the
//! budget on each; set the budget with that in mind.

use crate::error::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Forget idle keys' state every this many checks, so memory follows active keys only.
const PRUNE_EVERY: u64 = 100_000;

pub struct KeyRateLimiter {
    /// `None` when the budget is 0 (unlimited).
    limiter: Option<DefaultKeyedRateLimiter<i64>>,
    checks: AtomicU64,
}

impl KeyRateLimiter {
    /// `per_minute` requests per key per minute, all of which may come at once; 0 turns the
    /// limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
        }
    }

    pub fn check(&self, key_id: i64) -> Result<(), AppError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(&key_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_per_key_and_zero_means_unlimited() {
        let limiter = KeyRateLimiter::new(3);
        for _ in 0..3 {
            assert!(limiter.check(1).is_ok());
        }
        match limiter.check(1) {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limiter.check(2).is_ok(), "another key has its own budget");
        let unlimited = KeyRateLimiter::new(0);
        assert!((0..10_000).all(|_| unlimited.check(1).is_ok()));
    }
}
