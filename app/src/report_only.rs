//! Report only: a policy tried for some days before it is enforced refuses nothing, and
//! each request it would have refused is counted here, for the Owner's panel.
//!
//! The doors that check a policy (an API key's check, a session's organization actor) call
//! [`ReportOnly::note`], which only adds to a map in memory. At most once a second a task
//! writes what gathered: one upsert per member and key into `policy_would_deny`, and, the
//! first time a member or key appears in a trial, an audit event `policy.would_deny` (who,
//! which key, from where). The request being checked never waits for the database.

use crate::error::AppError;
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long a note waits in memory before it is written.
const FLUSH_AFTER: Duration = Duration::from_secs(1);

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
struct Pending {
    requests: i64,
    first_at: i64,
    last_at: i64,
    ip: Option<String>,
    agent: Option<String>,
}

type Slot = (i64, &'static str, i64, i64);

#[derive(Default)]
pub struct ReportOnly {
    pending: Mutex<HashMap<Slot, Pending>>,
    scheduled: AtomicBool,
}

impl ReportOnly {
    /// Counts a request the trial would have refused; written within a second.
    pub fn note(&self, state: &AppState, denial: Denial) {
        let now = state.now();
        {
            let Ok(mut pending) = self.pending.lock() else {
                return;
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
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            let state = state.clone();
            tokio::spawn(async move {
                tokio::time::sleep(FLUSH_AFTER).await;
                if let Err(err) = state.report_only.flush(&state).await {
                    tracing::warn!(?err, "report-only counts were not written");
                }
            });
        }
    }

    /// Writes what gathered (the panel calls it before it reads, so this process's latest
    /// requests show at once).
    pub async fn flush(&self, state: &AppState) -> Result<(), AppError> {
        self.scheduled.store(false, Ordering::Release);
        let pending: Vec<(Slot, Pending)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(()),
        };
        for ((org_id, policy, user_id, key_id), p) in pending {
            let mut tx = state.db.pool.begin().await?;
            // The organization may have stopped the trial since: its rows are gone then.
            let (running,): (i64,) = sqlx::query_as(
                "SELECT CASE WHEN $2 = 'sso' THEN COALESCE(sso_trial_until, 0)
                             ELSE COALESCE(two_factor_trial_until, 0) END
                 FROM organizations WHERE id = $1",
            )
            .bind(org_id)
            .bind(policy)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or((0,));
            if running < p.first_at {
                continue;
            }
            let (requests,): (i64,) = sqlx::query_as(
                "INSERT INTO policy_would_deny
                     (org_id, policy, user_id, key_id, requests, first_at, last_at, ip, agent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (org_id, policy, user_id, key_id) DO UPDATE SET
                     requests = policy_would_deny.requests + excluded.requests,
                     last_at = excluded.last_at, ip = excluded.ip, agent = excluded.agent
                 RETURNING requests",
            )
            .bind(org_id)
            .bind(policy)
            .bind(user_id)
            .bind(key_id)
            .bind(p.requests)
            .bind(p.first_at)
            .bind(p.last_at)
            .bind(&p.ip)
            .bind(&p.agent)
            .fetch_one(&mut *tx)
            .await?;
            if requests == p.requests {
                // New in this trial: once in the audit log, with who, which key, from where.
                crate::audit::record(
                    &mut tx,
                    state,
                    crate::audit::Event::new("policy.would_deny", format!("user:{user_id}"))
                        .org(org_id)
                        .actor(user_id)
                        .ip(p.ip.clone())
                        .details(serde_json::json!({
                            "policy": policy,
                            "key_id": (key_id != 0).then_some(key_id),
                            "client": p.agent,
                        })),
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
