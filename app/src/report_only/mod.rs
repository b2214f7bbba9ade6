//! Report only: a policy tried for some days before it is enforced refuses nothing, and
//! each request it would have refused is counted here, for the Owner's panel.
//!
//! The doors that check a policy (an API key's check, a session's organization actor) call
//! [`note`], which only adds to a map in memory ([`pending`]). At most once a second a task
//! writes what gathered: one upsert per member and key into `policy_would_deny`, and, the
//! first time a member or key appears in a trial, an audit event `policy.would_deny` (who,
//! which key, from where). The request being checked never waits for the database.

pub mod pending;

use crate::error::AppError;
use crate::state::AppState;
pub use pending::Denial;
use pending::FLUSH_AFTER;

/// Counts a request the trial would have refused; written within a second.
pub fn note(state: &AppState, denial: Denial) {
    if state.report_only.add(state.now(), denial) {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(FLUSH_AFTER).await;
            if let Err(err) = flush(&state).await {
                tracing::warn!(?err, "report-only counts were not written");
            }
        });
    }
}

/// Writes what gathered (the panel calls it before it reads, so this process's latest
/// requests show at once). Returns once every request noted before the call is written,
/// also when another flush had taken them: a page that reads a trial several times while
/// it renders then sees the same counts each time.
pub async fn flush(state: &AppState) -> Result<(), AppError> {
    let _writing = state.report_only.writing().await;
    let pending = state.report_only.take();
    for ((org_id, policy, user_id, key_id), p) in pending {
        let mut tx = state.db.begin().await?;
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
