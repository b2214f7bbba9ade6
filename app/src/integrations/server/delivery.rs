//! Sending deliveries: the background worker (claims due rows, sends, schedules retries with
//! exponential backoff) and **Send test event**.

use super::{load, Stored};
use crate::error::AppError;
use crate::integrations::model::{DeliveryRow, Kind};
use crate::state::AppState;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Attempts before a delivery is marked failed.
pub const MAX_ATTEMPTS: i64 = 6;
/// The first retry waits this long; each further retry twice as long (10 s … 160 s).
pub const FIRST_BACKOFF_SECS: i64 = 10;
/// How long a worker holds a delivery it took, from the moment it took it: longer than an
/// attempt can take, so no other replica sends the same attempt meanwhile.
const LEASE_SECS: i64 = 60;
/// Test events a group may send per hour: each may send email to up to 20 addresses.
pub const TESTS_PER_HOUR: i64 = 10;

pub use crate::outbound::signature;

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
    let sent = match kind {
        Kind::Webhook => {
            let (Some(url), Some(secret)) = (stored.url, stored.secret) else {
                return fail("The webhook has no URL or signing secret.".into());
            };
            let timestamp = state.now();
            let headers = [
                ("x-gatehouse-event", event.to_string()),
                ("x-gatehouse-delivery", id.to_string()),
                ("x-gatehouse-timestamp", timestamp.to_string()),
                (
                    "x-gatehouse-signature",
                    signature(&secret, timestamp, payload),
                ),
            ];
            state
                .outbound
                .post_json(&url, &headers, payload.to_string())
                .await
        }
        Kind::Slack => {
            let Some(url) = stored.secret else {
                return fail("The Slack integration has no URL.".into());
            };
            // Stored before Slack URLs were checked: refuse anything that is not Slack's.
            if !reqwest::Url::parse(&url).is_ok_and(|u| crate::outbound::is_slack_webhook(&u)) {
                return fail("This is not a Slack incoming webhook URL: set it again.".into());
            }
            let text = format!("Gatehouse: {event}\n```{payload}```");
            state
                .outbound
                .post_json(&url, &[], serde_json::json!({ "text": text }).to_string())
                .await
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
                if mailer
                    .send(to, to, &format!("Gatehouse: {event}"), body)
                    .await
                    .is_err()
                {
                    return fail(format!("Sending to {to} failed."));
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
    match sent {
        Ok(status) => Outcome {
            ok: status.is_success(),
            response_status: Some(i64::from(status.as_u16())),
            latency_ms: started.elapsed().as_millis() as i64,
            error: (!status.is_success()).then(|| format!("The receiver answered {status}.")),
        },
        Err(err) => fail(err.to_string()),
    }
}

/// Records an attempt's outcome, if the attempt is still the delivery's latest (a worker
/// whose lease ran out must not overwrite the attempt another worker made since).
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
         WHERE id = $7 AND attempts = $8 AND status = 'pending'",
    )
    .bind(status)
    .bind(next)
    .bind(outcome.response_status)
    .bind(outcome.latency_ms)
    .bind(&outcome.error)
    .bind(now)
    .bind(id)
    .bind(attempts)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// A delivery a worker has taken for one attempt.
struct Claimed {
    id: i64,
    org_id: i64,
    group_id: i64,
    attempts: i64,
    kind: Kind,
    event: String,
    payload: String,
}

/// Takes up to `free` due deliveries, fairly across organizations: each organization's
/// oldest first, round-robin (ROW_NUMBER per organization), skipping organizations that have
/// `per_org` deliveries in flight already. One organization's backlog or dead receiver so
/// holds at most `per_org` of the worker's slots. Each delivery is taken by one conditional
/// UPDATE, with a lease counted from that moment: of several replicas' workers, one gets it.
async fn claim_due(
    state: &AppState,
    free: usize,
    per_org: usize,
    in_flight: &HashMap<i64, usize>,
) -> Result<Vec<Claimed>, AppError> {
    let now = state.now();
    let due: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, org_id FROM (
            SELECT d.id, g.org_id,
                   ROW_NUMBER() OVER (PARTITION BY g.org_id ORDER BY d.next_attempt_at, d.id) AS place
            FROM deliveries d JOIN groups g ON g.id = d.group_id
            WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.claimed_until <= $1
         ) due
         WHERE place <= $2 ORDER BY place, id LIMIT $3",
    )
    .bind(now)
    .bind(per_org as i64)
    .bind((free + in_flight.len() * per_org).min(500) as i64)
    .fetch_all(&state.db.pool)
    .await?;
    let mut taken: HashMap<i64, usize> = HashMap::new();
    let mut claims = Vec::new();
    for (id, org_id) in due {
        if claims.len() >= free {
            break;
        }
        let busy =
            in_flight.get(&org_id).copied().unwrap_or(0) + taken.get(&org_id).copied().unwrap_or(0);
        if busy >= per_org {
            continue;
        }
        let now = state.now();
        let claimed: Option<(i64, i64, String, String, String)> = sqlx::query_as(
            "UPDATE deliveries SET claimed_until = $1, attempts = attempts + 1
             WHERE id = $2 AND status = 'pending' AND claimed_until <= $3 AND next_attempt_at <= $3
             RETURNING group_id, attempts, kind, event, payload",
        )
        .bind(now + LEASE_SECS)
        .bind(id)
        .bind(now)
        .fetch_optional(&state.db.pool)
        .await?;
        let Some((group_id, attempts, kind, event, payload)) = claimed else {
            continue;
        };
        let Some(kind) = Kind::parse(&kind) else {
            tracing::error!(delivery = id, kind, "a delivery of an unknown kind");
            continue;
        };
        *taken.entry(org_id).or_default() += 1;
        claims.push(Claimed {
            id,
            org_id,
            group_id,
            attempts,
            kind,
            event,
            payload,
        });
    }
    Ok(claims)
}

/// One attempt of a taken delivery; returns its organization (to free its slot).
async fn attempt(state: AppState, claim: Claimed) -> i64 {
    let stored = match load(&state, claim.group_id, claim.kind).await {
        Ok(stored) => stored,
        Err(err) => {
            // The lease runs out and the delivery is taken again later.
            tracing::error!(delivery = claim.id, ?err, "loading an integration failed");
            return claim.org_id;
        }
    };
    let outcome = send(
        &state,
        claim.id,
        claim.kind,
        &claim.event,
        &claim.payload,
        stored,
    )
    .await;
    metrics::counter!(
        "gatehouse_delivery_attempts_total",
        "kind" => claim.kind.as_str(),
        "outcome" => if outcome.ok { "delivered" } else { "failed" }
    )
    .increment(1);
    if !outcome.ok {
        tracing::warn!(
            delivery = claim.id,
            attempts = claim.attempts,
            error = ?outcome.error,
            "delivery attempt failed"
        );
    }
    if let Err(err) = record(&state, claim.id, claim.attempts, &outcome, true).await {
        tracing::error!(
            delivery = claim.id,
            ?err,
            "recording a delivery attempt failed"
        );
    }
    claim.org_id
}

/// The worker: keeps up to `--delivery-concurrency` attempts in flight (at most
/// `Settings::delivery_concurrency_per_org` per organization), polls for due deliveries
/// every `poll`, and on `stop` takes nothing new and finishes the attempts in flight (each
/// bounded by [`REQUEST_TIMEOUT`](crate::outbound::REQUEST_TIMEOUT)) before returning.
pub async fn run_worker(state: AppState, poll: Duration, stop: CancellationToken) {
    let total = state.settings.delivery_concurrency.max(1);
    let per_org = state.settings.delivery_concurrency_per_org.max(1);
    let mut in_flight: JoinSet<i64> = JoinSet::new();
    let mut by_org: HashMap<i64, usize> = HashMap::new();
    let finished = |by_org: &mut HashMap<i64, usize>, done: Result<i64, tokio::task::JoinError>| {
        if let Ok(org_id) = done {
            if let Some(n) = by_org.get_mut(&org_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    by_org.remove(&org_id);
                }
            }
        }
    };
    while !stop.is_cancelled() {
        while let Some(done) = in_flight.try_join_next() {
            finished(&mut by_org, done);
        }
        let free = total.saturating_sub(in_flight.len());
        let mut started = 0;
        if free > 0 {
            match claim_due(&state, free, per_org, &by_org).await {
                Ok(claims) => {
                    for claim in claims {
                        *by_org.entry(claim.org_id).or_default() += 1;
                        in_flight.spawn(attempt(state.clone(), claim));
                        started += 1;
                    }
                }
                Err(err) => tracing::error!(?err, "delivery worker: taking due deliveries"),
            }
        }
        // More may be due right away when this round filled what it could.
        if started > 0 && started == free {
            continue;
        }
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => finished(&mut by_org, done),
            () = tokio::time::sleep(poll) => {}
            () = stop.cancelled() => {}
        }
    }
    let left = in_flight.len();
    if left > 0 {
        tracing::info!(
            deliveries = left,
            "finishing the deliveries in flight before stopping"
        );
    }
    while in_flight.join_next().await.is_some() {}
}

/// **Send test event**: delivers a test event now, in the request, and keeps the result in the
/// deliveries list (no retries: the person is watching).
pub async fn send_test(
    state: &AppState,
    group_id: i64,
    group_name: &str,
    kind: Kind,
) -> Result<DeliveryRow, AppError> {
    crate::auth::server::rate_limit::hit(
        state,
        &format!("integration-test:{group_id}"),
        TESTS_PER_HOUR,
        Duration::from_secs(3600),
    )
    .await?;
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
    .bind(now + LEASE_SECS)
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
        created: crate::dates::date_time(now),
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
