//! Pruning of the tables that would otherwise only grow: finished deliveries past their
//! retention, ended sessions, expired half-done sign-ins (password, passkey and single sign-on
//! round trips, identities waiting to be linked), spent rate-limit windows and the kept
//! answers of Idempotency-Keys past their 24 hours. Runs
//! beside the server on a schedule; every replica may run it (deletes are idempotent), and
//! each statement deletes a bounded batch so SQLite's write lock is never held for long.

use crate::error::AppError;
use crate::state::AppState;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows deleted per statement.
const BATCH: i64 = 1000;
/// Rate-limit windows are at most an hour; a day-old counter is spent.
const RATE_LIMIT_RETENTION_SECS: i64 = 24 * 3600;

/// How many rows of each kind one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub sessions: u64,
    pub sign_in_challenges: u64,
    pub sso_logins: u64,
    pub rate_limits: u64,
    pub idempotency_keys: u64,
}

/// Deletes batches of `select_ids`' rows from `table` until none are left.
async fn delete_batches(
    state: &AppState,
    table: &str,
    key: &str,
    select_ids: &str,
    bind: &[i64],
) -> Result<u64, AppError> {
    let sql = format!("DELETE FROM {table} WHERE {key} IN ({select_ids} LIMIT {BATCH})");
    let mut total = 0;
    loop {
        let mut query = sqlx::query(&sql);
        for value in bind {
            query = query.bind(*value);
        }
        let done = query.execute(&state.db.pool).await?.rows_affected();
        total += done;
        if done < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// One pass over every table with a retention.
pub async fn prune(state: &AppState) -> Result<Pruned, AppError> {
    let now = state.now();
    let settings = &state.settings;
    let delivered_before = now - settings.delivery_retention.as_secs() as i64;
    let idle_before = now - settings.session_idle.as_secs() as i64;
    Ok(Pruned {
        deliveries: delete_batches(
            state,
            "deliveries",
            "id",
            "SELECT id FROM deliveries WHERE status IN ('delivered', 'failed') AND updated_at < $1",
            &[delivered_before],
        )
        .await?,
        sessions: delete_batches(
            state,
            "sessions",
            "id_hash",
            "SELECT id_hash FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
            &[now, idle_before],
        )
        .await?,
        sign_in_challenges: delete_batches(
            state,
            "sign_in_challenges",
            "id_hash",
            "SELECT id_hash FROM sign_in_challenges WHERE expires_at <= $1",
            &[now],
        )
        .await?,
        sso_logins: delete_batches(
            state,
            "sso_logins",
            "state_hash",
            "SELECT state_hash FROM sso_logins WHERE expires_at <= $1",
            &[now],
        )
        .await?
            + delete_batches(
                state,
                "sso_pending_links",
                "token_hash",
                "SELECT token_hash FROM sso_pending_links WHERE expires_at <= $1",
                &[now],
            )
            .await?,
        rate_limits: delete_batches(
            state,
            "rate_limits",
            "bucket",
            "SELECT bucket FROM rate_limits WHERE window_start <= $1",
            &[now - RATE_LIMIT_RETENTION_SECS],
        )
        .await?,
        idempotency_keys: delete_batches(
            state,
            "idempotency_keys",
            "id",
            "SELECT id FROM idempotency_keys WHERE created_at <= $1",
            &[now - crate::rest::idempotency::RETENTION_SECS],
        )
        .await?,
    })
}

/// Prunes (and checkpoints the audit log's chains) once at start and then every `every`,
/// until `stop`.
pub async fn run(state: AppState, every: Duration, stop: CancellationToken) {
    loop {
        match prune(&state).await {
            Ok(pruned) if pruned != Pruned::default() => {
                tracing::info!(?pruned, "pruned expired rows")
            }
            Ok(_) => {}
            Err(err) => tracing::error!(?err, "pruning expired rows"),
        }
        match crate::audit::checkpoint::checkpoint(&state).await {
            Ok(0) => {}
            Ok(written) => tracing::info!(written, "audit log checkpoints"),
            Err(err) => tracing::error!(?err, "writing audit log checkpoints"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
    }
}
