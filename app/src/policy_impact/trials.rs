//! Report only: starting, stopping and reading a policy's trial. The counting is
//! `crate::report_only`'s, at the doors that check the policies.

use super::model::{Proposal, Trial, Trials, WouldDeny, MAX_TRIAL_DAYS, SHOWN};
use super::server::DAY_SECS;
use crate::auth::server::Actor;
use crate::dates::date_time;
use crate::error::AppError;
use crate::orgs::store::lock_org;
use crate::policy::{authorize, Action};
use crate::state::AppState;

/// The trial's length: 1–30 whole days.
pub fn trial_days(raw: &str) -> Result<i64, AppError> {
    match raw.trim().parse::<i64>() {
        Ok(days) if (1..=MAX_TRIAL_DAYS).contains(&days) => Ok(days),
        _ => Err(AppError::invalid(
            "days",
            format!("Report only runs for 1 to {MAX_TRIAL_DAYS} days."),
        )),
    }
}

/// Starts trying `policy` in report-only mode for `days`: from now on each request it would
/// refuse is counted, and nothing is refused. Starts over if a trial of it ran before.
pub async fn start(
    state: &AppState,
    actor: &Actor,
    policy: Proposal,
    days: i64,
) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let now = state.now();
    let until = now + days * DAY_SECS;
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let (require_two_factor, sso_connected, sso_required): (i64, i64, i64) = sqlx::query_as(
        "SELECT o.require_two_factor, COUNT(c.org_id), COALESCE(MAX(c.required), 0)
         FROM organizations o LEFT JOIN sso_connections c ON c.org_id = o.id
         WHERE o.id = $1 GROUP BY o.require_two_factor",
    )
    .bind(actor.org_id)
    .fetch_one(&mut *tx)
    .await?;
    let slot: &[&str] = match policy {
        Proposal::TwoFactor | Proposal::SecurityKeys => {
            let level = if policy == Proposal::SecurityKeys {
                2
            } else {
                1
            };
            if require_two_factor >= level {
                return Err(AppError::conflict(
                    "policy",
                    "This policy is already required: there is nothing to try.",
                ));
            }
            sqlx::query(
                "UPDATE organizations SET two_factor_trial = $1, two_factor_trial_since = $2,
                        two_factor_trial_until = $3 WHERE id = $4",
            )
            .bind(level)
            .bind(now)
            .bind(until)
            .bind(actor.org_id)
            .execute(&mut *tx)
            .await?;
            &["two_factor", "security_keys"]
        }
        Proposal::Sso => {
            if sso_connected == 0 {
                return Err(AppError::conflict(
                    "policy",
                    "Connect an identity provider first.",
                ));
            }
            if sso_required == 1 {
                return Err(AppError::conflict(
                    "policy",
                    "Single sign-on is already required: there is nothing to try.",
                ));
            }
            sqlx::query(
                "UPDATE organizations SET sso_trial_since = $1, sso_trial_until = $2 WHERE id = $3",
            )
            .bind(now)
            .bind(until)
            .bind(actor.org_id)
            .execute(&mut *tx)
            .await?;
            &["sso"]
        }
    };
    for name in slot {
        sqlx::query("DELETE FROM policy_would_deny WHERE org_id = $1 AND policy = $2")
            .bind(actor.org_id)
            .bind(*name)
            .execute(&mut *tx)
            .await?;
    }
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event(
                "policy.report_only_started",
                format!("org:{}", actor.org_id),
            )
            .details(serde_json::json!({
                "policy": policy.as_str(),
                "days": days,
                "until": date_time(until),
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Stops the trial `policy` runs in; what it counted stays on the panel.
pub async fn stop(state: &AppState, actor: &Actor, policy: Proposal) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let now = state.now();
    let column = match policy {
        Proposal::Sso => "sso_trial_until",
        _ => "two_factor_trial_until",
    };
    let mut tx = state.db.begin().await?;
    lock_org(&mut tx, actor.org_id).await?;
    let stopped = sqlx::query(&format!(
        "UPDATE organizations SET {column} = $1 WHERE id = $2 AND {column} > $1"
    ))
    .bind(now)
    .bind(actor.org_id)
    .execute(&mut *tx)
    .await?;
    if stopped.rows_affected() == 0 {
        return Err(AppError::conflict(
            "policy",
            "No report-only trial is running.",
        ));
    }
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event(
                "policy.report_only_stopped",
                format!("org:{}", actor.org_id),
            )
            .details(serde_json::json!({ "policy": policy.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The organization's trials with what they counted (this process's latest notes written
/// first).
pub async fn view(state: &AppState, actor: &Actor) -> Result<Trials, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    crate::report_only::flush(state).await?;
    let now = state.now();
    let (level, since, until, sso_since, sso_until): (
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT two_factor_trial, two_factor_trial_since, two_factor_trial_until,
                sso_trial_since, sso_trial_until
         FROM organizations WHERE id = $1",
    )
    .bind(actor.org_id)
    .fetch_one(&state.db.pool)
    .await?;
    let two_factor = match (level, since, until) {
        (1 | 2, Some(since), Some(until)) => {
            let policy = if level == 2 {
                Proposal::SecurityKeys
            } else {
                Proposal::TwoFactor
            };
            Some(trial(state, actor.org_id, policy, since, until, now).await?)
        }
        _ => None,
    };
    let sso = match (sso_since, sso_until) {
        (Some(since), Some(until)) => {
            Some(trial(state, actor.org_id, Proposal::Sso, since, until, now).await?)
        }
        _ => None,
    };
    Ok(Trials { two_factor, sso })
}

async fn trial(
    state: &AppState,
    org_id: i64,
    policy: Proposal,
    since: i64,
    until: i64,
    now: i64,
) -> Result<Trial, AppError> {
    let (requests, members): (Option<i64>, i64) = sqlx::query_as(
        "SELECT CAST(SUM(requests) AS BIGINT), COUNT(DISTINCT user_id) FROM policy_would_deny
         WHERE org_id = $1 AND policy = $2",
    )
    .bind(org_id)
    .bind(policy.as_str())
    .fetch_one(&state.db.pool)
    .await?;
    type Row = (
        String,
        String,
        Option<String>,
        i64,
        i64,
        Option<String>,
        Option<String>,
    );
    let entries = sqlx::query_as::<_, Row>(
        "SELECT u.name, u.email, k.name, w.requests, w.last_at, w.ip, w.agent
         FROM policy_would_deny w JOIN users u ON u.id = w.user_id
         LEFT JOIN api_keys k ON k.id = w.key_id
         WHERE w.org_id = $1 AND w.policy = $2
         ORDER BY w.requests DESC, w.user_id, w.key_id LIMIT $3",
    )
    .bind(org_id)
    .bind(policy.as_str())
    .bind(SHOWN)
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .map(
        |(name, email, key_name, requests, last_at, ip, agent)| WouldDeny {
            name,
            email,
            key_name,
            requests,
            last_text: date_time(last_at),
            ip,
            agent,
        },
    )
    .collect();
    Ok(Trial {
        policy,
        since_text: date_time(since),
        until_text: date_time(until),
        running: until > now,
        requests: requests.unwrap_or(0),
        members,
        entries,
    })
}
