//! Sending deliveries: the background worker (claims due rows, sends, schedules retries with
//! exponential backoff) and **Send test event**.

use super::{load, Stored};
use crate::error::AppError;
use crate::integrations::model::{DeliveryRow, Kind};
use crate::state::AppState;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Attempts before a delivery is marked failed.
pub const MAX_ATTEMPTS: i64 = 6;
/// The first retry waits this long; each further retry twice as long (10 s … 160 s).
pub const FIRST_BACKOFF_SECS: i64 = 10;
/// How long a worker holds a delivery it took (another replica may take it after).
const CLAIM_SECS: i64 = 60;
const TIMEOUT: Duration = Duration::from_secs(10);

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Gatehouse-Webhook/1")
            .build()
            .unwrap_or_default()
    })
}

/// `sha256=` + hex HMAC-SHA256 of `"{timestamp}.{body}"` under the signing secret. Receivers
/// recompute it and refuse old timestamps, so a captured delivery cannot be replayed later.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The result of one attempt.
struct Outcome {
    ok: bool,
    response_status: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
}

async fn send(
    state: &AppState,
    id: i64,
    kind: Kind,
    event: &str,
    payload: &str,
    stored: Option<Stored>,
) -> Outcome {
    let started = Instant::now();
    let fail = |error: String| Outcome {
        ok: false,
        response_status: None,
        latency_ms: started.elapsed().as_millis() as i64,
        error: Some(error),
    };
    let Some(stored) = stored.filter(|s| s.enabled) else {
        return fail("The integration is turned off.".into());
    };
    let request = match kind {
        Kind::Webhook => {
            let (Some(url), Some(secret)) = (stored.url, stored.secret) else {
                return fail("The webhook has no URL or signing secret.".into());
            };
            let timestamp = state.now();
            client()
                .post(url)
                .header("content-type", "application/json")
                .header("x-gatehouse-event", event)
                .header("x-gatehouse-delivery", id.to_string())
                .header("x-gatehouse-timestamp", timestamp.to_string())
                .header(
                    "x-gatehouse-signature",
                    signature(&secret, timestamp, payload),
                )
                .body(payload.to_string())
        }
        Kind::Slack => {
            let Some(url) = stored.secret else {
                return fail("The Slack integration has no URL.".into());
            };
            let text = format!("Gatehouse: {event}\n```{payload}```");
            client()
                .post(url)
                .header("content-type", "application/json")
                .body(serde_json::json!({ "text": text }).to_string())
        }
        Kind::Email => {
            let Some(mailer) = &state.mailer else {
                return fail("Email is not set up on this server (--smtp-url).".into());
            };
            let recipients = stored.recipients.unwrap_or_default();
            for to in recipients
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
            {
                let body = format!("Gatehouse event {event}:\n\n{payload}\n");
                if let Err(err) = mailer
                    .send(to, to, &format!("Gatehouse: {event}"), body)
                    .await
                {
                    return fail(format!("Sending to {to} failed: {err}"));
                }
            }
            return Outcome {
                ok: true,
                response_status: None,
                latency_ms: started.elapsed().as_millis() as i64,
                error: None,
            };
        }
    };
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            Outcome {
                ok: status.is_success(),
                response_status: Some(i64::from(status.as_u16())),
                latency_ms: started.elapsed().as_millis() as i64,
                error: (!status.is_success()).then(|| format!("The receiver answered {status}.")),
            }
        }
        Err(err) => fail(if err.is_timeout() {
            format!("No answer within {} seconds.", TIMEOUT.as_secs())
        } else {
            format!("Could not connect: {err}")
        }),
    }
}

async fn record(
    state: &AppState,
    id: i64,
    attempts: i64,
    outcome: &Outcome,
    retry: bool,
) -> Result<(), AppError> {
    let now = state.now();
    let (status, next) = if outcome.ok {
        ("delivered", now)
    } else if retry && attempts < MAX_ATTEMPTS {
        (
            "pending",
            now + FIRST_BACKOFF_SECS * (1 << (attempts - 1).clamp(0, 20)),
        )
    } else {
        ("failed", now)
    };
    sqlx::query(
        "UPDATE deliveries SET status = $1, next_attempt_at = $2, claimed_until = 0, response_status = $3,
                latency_ms = $4, error = $5, updated_at = $6
         WHERE id = $7",
    )
    .bind(status)
    .bind(next)
    .bind(outcome.response_status)
    .bind(outcome.latency_ms)
    .bind(&outcome.error)
    .bind(now)
    .bind(id)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// Sends every delivery that is due, once. Returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize, AppError> {
    let now = state.now();
    let due: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1
         ORDER BY next_attempt_at, id LIMIT 20",
    )
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    let mut attempted = 0;
    for (id,) in due {
        // Taking the row is one UPDATE: of several replicas' workers, one wins.
        let claimed: Option<(i64, i64, String, String, String)> = sqlx::query_as(
            "UPDATE deliveries SET claimed_until = $1, attempts = attempts + 1
             WHERE id = $2 AND status = 'pending' AND claimed_until <= $3
             RETURNING group_id, attempts, kind, event, payload",
        )
        .bind(now + CLAIM_SECS)
        .bind(id)
        .bind(now)
        .fetch_optional(&state.db.pool)
        .await?;
        let Some((group_id, attempts, kind, event, payload)) = claimed else {
            continue;
        };
        let Some(kind) = Kind::parse(&kind) else {
            continue;
        };
        let stored = load(state, group_id, kind).await?;
        let outcome = send(state, id, kind, &event, &payload, stored).await;
        if !outcome.ok {
            tracing::warn!(delivery = id, attempts, error = ?outcome.error, "delivery attempt failed");
        }
        record(state, id, attempts, &outcome, true).await?;
        attempted += 1;
    }
    Ok(attempted)
}

/// The worker: polls for due deliveries until the process stops.
pub async fn run_worker(state: AppState, poll: Duration) {
    loop {
        if let Err(err) = deliver_due(&state).await {
            tracing::error!(?err, "delivery worker");
        }
        tokio::time::sleep(poll).await;
    }
}

/// **Send test event**: delivers a test event now, in the request, and keeps the result in the
/// deliveries list (no retries: the person is watching).
pub async fn send_test(
    state: &AppState,
    group_id: i64,
    group_name: &str,
    kind: Kind,
) -> Result<DeliveryRow, AppError> {
    let now = state.now();
    let payload = serde_json::json!({
        "event": "test",
        "group_id": group_id,
        "occurred_at": now,
        "data": { "group": group_name, "message": "A test event from Gatehouse." },
    })
    .to_string();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO deliveries (group_id, kind, event, payload, status, attempts, next_attempt_at, claimed_until, created_at, updated_at)
         VALUES ($1, $2, 'test', $3, 'pending', 1, $4, $5, $4, $4) RETURNING id",
    )
    .bind(group_id)
    .bind(kind.as_str())
    .bind(&payload)
    .bind(now)
    .bind(now + CLAIM_SECS)
    .fetch_one(&state.db.pool)
    .await?;
    let stored = load(state, group_id, kind).await?;
    let outcome = send(state, id, kind, "test", &payload, stored).await;
    record(state, id, 1, &outcome, false).await?;
    Ok(DeliveryRow {
        id,
        kind,
        event: "test".into(),
        status: if outcome.ok { "delivered" } else { "failed" }.into(),
        attempts: 1,
        response_status: outcome.response_status,
        latency_ms: Some(outcome.latency_ms),
        error: outcome.error,
        created: crate::orgs::server::date_time(now),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'secret-secret-secret'
        let sig = super::signature("secret-secret-secret", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            sig,
            "sha256=fa345d5b654e6667128855e14a4938c54b5b813699e6b72c5c4f501aa493ba92"
        );
        assert_ne!(
            sig,
            super::signature("secret-secret-secret", 1_700_000_001, r#"{"a":1}"#)
        );
    }
}
