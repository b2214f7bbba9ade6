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

/// Counts one attempt, atomically, before the work it limits; refuses it when the bucket is
/// over `limit` in this window. Concurrent attempts each get their own count.
pub async fn hit(
    state: &AppState,
    bucket: &str,
    limit: i64,
    window: Duration,
) -> Result<(), AppError> {
    let (hits, window_start) = increment(state, bucket, window).await?;
    if hits > limit {
        // The bucket's kind, not the bucket (an address or an email would be a label per client).
        let kind = bucket.split(':').next().unwrap_or_default().to_string();
        metrics::counter!("gatehouse_rate_limited_total", "limit" => kind).increment(1);
        return Err(limited(state, window_start, window));
    }
    Ok(())
}

pub async fn reset(state: &AppState, bucket: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM rate_limits WHERE bucket = $1")
        .bind(bucket)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// The bucket of a client address: an IPv6 client is counted per /64, the block one
/// subscriber or host usually holds, or a single machine could rotate through 2^64 addresses.
pub fn ip_bucket(prefix: &str, ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{prefix}:{v4}"),
            None => {
                let s = v6.segments();
                format!("{prefix}:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => format!("{prefix}:{v4}"),
        Err(_) => format!("{prefix}:{ip}"),
    }
}

#[cfg(test)]
mod tests {
    use super::ip_bucket;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            ip_bucket("x", "2001:db8:1:2:aaaa::1"),
            ip_bucket("x", "2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(
            ip_bucket("x", "2001:db8:1:2::1"),
            ip_bucket("x", "2001:db8:1:3::1")
        );
        assert_eq!(ip_bucket("x", "::ffff:192.0.2.7"), "x:192.0.2.7");
        assert_eq!(ip_bucket("x", "192.0.2.7"), "x:192.0.2.7");
    }
}
