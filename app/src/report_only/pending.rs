//! The requests a trial would have refused, gathered in memory until they are written. Part
//! of the application's state, so below it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long a note waits in memory before it is written.
pub const FLUSH_AFTER: Duration = Duration::from_secs(1);

/// One request a trial would have refused.
#[derive(Debug, Clone)]
pub struct Denial {
    pub org_id: i64,
    /// `two_factor`, `security_keys` or `sso`.
    pub policy: &'static str,
    pub user_id: i64,
    /// The API key; 0 for a signed-in session.
    pub key_id: i64,
    pub ip: Option<String>,
    pub agent: Option<String>,
}

#[derive(Debug)]
pub struct Pending {
    pub requests: i64,
    pub first_at: i64,
    pub last_at: i64,
    pub ip: Option<String>,
    pub agent: Option<String>,
}

/// Organization, policy, member, key.
pub type Slot = (i64, &'static str, i64, i64);

#[derive(Default)]
pub struct ReportOnly {
    pending: Mutex<HashMap<Slot, Pending>>,
    scheduled: AtomicBool,
    /// Held while what was taken is written: a reader that flushes first waits for a write
    /// already under way instead of reading before it lands.
    writing: tokio::sync::Mutex<()>,
}

impl ReportOnly {
    /// Counts a request the trial would have refused, at `now`. True when no write is
    /// scheduled yet: the caller schedules one.
    pub fn add(&self, now: i64, denial: Denial) -> bool {
        {
            let Ok(mut pending) = self.pending.lock() else {
                return false;
            };
            let entry = pending
                .entry((denial.org_id, denial.policy, denial.user_id, denial.key_id))
                .or_insert(Pending {
                    requests: 0,
                    first_at: now,
                    last_at: now,
                    ip: None,
                    agent: None,
                });
            entry.requests += 1;
            entry.last_at = now;
            entry.ip = denial.ip;
            entry.agent = denial.agent;
        }
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Waits for a write of what was taken earlier to finish; hold the guard while taking
    /// and writing.
    pub async fn writing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writing.lock().await
    }

    /// Takes what gathered; the next [`add`](Self::add) schedules a write again.
    pub fn take(&self) -> Vec<(Slot, Pending)> {
        self.scheduled.store(false, Ordering::Release);
        match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => Vec::new(),
        }
    }
}
