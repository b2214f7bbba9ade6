//! Fixed-window counters in the database, so every server process counts the same attempts.

use crate::error::AppError;
use crate::state::AppState;
use std::time::Duration;

const UPSERT: &str = "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
     ON CONFLICT (bucket) DO UPDATE SET
       hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END,
       window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END
     RETURNING hits, window_start";

async fn increment(
    state: &AppState,
    bucket: &str,
    window: Duration,
) -> Result<(i64, i64), AppError> {
    let now = state.now();
    let row: (i64, i64) = sqlx::query_as(UPSERT)
        .bind(bucket)
        .bind(now)
        .bind(now - window.as_secs() as i64)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(row)
}

fn limited(state: &AppState, window_start: i64, window: Duration) -> AppError {
    let retry = (window_start + window.as_secs() as i64 - state.now()).max(1) as u64;
    AppError::RateLimited {
        retry_after_secs: retry,
    }
}

/// Counts one attempt; refuses it when the bucket is over `limit` in this window.
pub async fn hit(
    state: &AppState,
    bucket: &str,
    limit: i64,
    window: Duration,
) -> Result<(), AppError> {
    let (hits, window_start) = increment(state, bucket, window).await?;
    if hits > limit {
        return Err(limited(state, window_start, window));
    }
    Ok(())
}

/// Counts one failure without refusing anything (the next `check` will).
pub async fn hit_failure(state: &AppState, bucket: &str, window: Duration) -> Result<(), AppError> {
    increment(state, bucket, window).await.map(|_| ())
}

/// Refuses when the bucket already holds `limit` hits in the current window.
pub async fn check(
    state: &AppState,
    bucket: &str,
    limit: i64,
    window: Duration,
) -> Result<(), AppError> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT hits, window_start FROM rate_limits WHERE bucket = $1")
            .bind(bucket)
            .fetch_optional(&state.db.pool)
            .await?;
    match row {
        Some((hits, start)) if hits >= limit && start > state.now() - window.as_secs() as i64 => {
            Err(limited(state, start, window))
        }
        _ => Ok(()),
    }
}

pub async fn reset(state: &AppState, bucket: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM rate_limits WHERE bucket = $1")
        .bind(bucket)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}
