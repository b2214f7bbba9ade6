//! The streams' settings and the worker that sends them.
//!
//! Order and completeness come from the audit chain: an organization's events carry `seq`
//! 1, 2, 3… assigned under the chain's lock and committed with it, so an event with a lower
//! `seq` is always visible before one with a higher. A stream's cursor is the last `seq` its
//! receiver acknowledged (a 2xx); each batch is the next events after it, in `seq` order, and
//! the cursor moves only after the answer. A batch that fails is sent again, whole, after a
//! backoff: a receiver may see an event twice (the same `id`), never out of order or missing.
//! A lease on the stream's row keeps two replicas from sending the same stream at once.

use super::model::{StreamKind, StreamView, StreamsView};
use crate::auth::server::Actor;
use crate::dates::date_time;
use crate::error::AppError;
use crate::policy::{authorize, Action};
use crate::state::AppState;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Events per batch.
pub const BATCH: i64 = 500;
/// How long a worker holds a stream it took; renewed with each batch.
const LEASE_SECS: i64 = 120;
/// The first retry waits this long, each further one twice as long, up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: i64 = 5;
pub const MAX_BACKOFF_SECS: i64 = 300;
/// Streams per organization: one of each kind.
const SECRET_MIN_CHARS: usize = 16;

fn secret_context(org_id: i64, kind: StreamKind) -> String {
    format!("audit_stream:{org_id}:{}", kind.as_str())
}

/// The wait before attempt `failures + 1` after `failures` failures in a row.
pub fn backoff_secs(failures: i64) -> i64 {
    let doublings = (failures - 1).clamp(0, 16) as u32;
    (FIRST_BACKOFF_SECS << doublings).min(MAX_BACKOFF_SECS)
}

pub async fn view(state: &AppState, actor: &Actor) -> Result<StreamsView, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    type Row = (
        i64,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.kind, s.url, s.cursor_seq, s.failures, s.last_success_at, s.last_error,
                s.next_attempt_at
         FROM audit_streams s WHERE s.org_id = $1 ORDER BY s.id",
    )
    .bind(actor.org_id)
    .fetch_all(&state.db.pool)
    .await?;
    let head: Option<(i64,)> = sqlx::query_as("SELECT seq FROM audit_chains WHERE org_key = $1")
        .bind(actor.org_id)
        .fetch_optional(&state.db.pool)
        .await?;
    let head = head.map_or(0, |(seq,)| seq);
    let streams = rows
        .into_iter()
        .map(
            |(id, kind, url, cursor, failures, last_success, last_error, next_attempt)| {
                Ok(StreamView {
                    id,
                    kind: StreamKind::parse(&kind)?,
                    url,
                    delivered_seq: cursor,
                    lag: (head - cursor).max(0),
                    last_success: last_success.map(date_time),
                    last_error: (failures > 0).then_some(last_error).flatten(),
                    next_attempt: (failures > 0).then(|| date_time(next_attempt)),
                })
            },
        )
        .collect::<Result<_, AppError>>()?;
    Ok(StreamsView { streams })
}

/// Checks a receiver's URL: HTTPS, or HTTP to an address the operator allowed
/// (`--outbound-allow`); never an internal destination (the outbound guard).
async fn parse_url(state: &AppState, raw: &str) -> Result<String, AppError> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| {
        AppError::invalid(
            "url",
            "Enter a full URL, like https://siem.example.com/ingest.",
        )
    })?;
    let allowed_http = url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => state.outbound.policy.allows_ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => state.outbound.policy.allows_ip(ip.into()),
            _ => false,
        };
    if url.scheme() != "https" && !allowed_http {
        return Err(AppError::invalid(
            "url",
            "The receiver must use https:// (audit events are sensitive).",
        ));
    }
    crate::outbound::check_field(&state.outbound.policy, &url, "url").await?;
    Ok(url.to_string())
}

/// Adds a stream; it starts with the organization's first event.
pub async fn add(
    state: &AppState,
    actor: &Actor,
    kind: StreamKind,
    url: &str,
    secret: &str,
) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let url = parse_url(state, url).await?;
    let secret = secret.trim();
    if kind == StreamKind::JsonLines && secret.chars().count() < SECRET_MIN_CHARS {
        return Err(AppError::invalid(
            "secret",
            format!("The signing secret needs at least {SECRET_MIN_CHARS} characters."),
        ));
    }
    if secret.is_empty() || secret.len() > 500 {
        return Err(AppError::invalid(
            "secret",
            "Enter the HEC token the collector gave you.",
        ));
    }
    let stored = state
        .secret_key
        .encrypt(secret.as_bytes(), &secret_context(actor.org_id, kind));
    let now = state.now();
    let mut tx = state.db.begin().await?;
    crate::orgs::store::lock_org(&mut tx, actor.org_id).await?;
    let (exists,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_streams WHERE org_id = $1 AND kind = $2")
            .bind(actor.org_id)
            .bind(kind.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if exists > 0 {
        return Err(AppError::conflict(
            "kind",
            "This organization already streams in this format. Remove that stream first.",
        ));
    }
    sqlx::query(
        "INSERT INTO audit_streams (org_id, kind, url, secret, cursor_seq, failures,
                                    next_attempt_at, lease_until, created_at)
         VALUES ($1, $2, $3, $4, 0, 0, 0, 0, $5)",
    )
    .bind(actor.org_id)
    .bind(kind.as_str())
    .bind(&url)
    .bind(&stored)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("audit_stream.added", format!("org:{}", actor.org_id))
            .details(serde_json::json!({ "kind": kind.as_str(), "url": url })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove(state: &AppState, actor: &Actor, stream_id: i64) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let mut tx = state.db.begin().await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "DELETE FROM audit_streams WHERE id = $1 AND org_id = $2 RETURNING kind, url",
    )
    .bind(stream_id)
    .bind(actor.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((kind, url)) = row else {
        return Err(AppError::NotFound);
    };
    crate::audit::record(
        &mut tx,
        state,
        actor
            .event("audit_stream.removed", format!("org:{}", actor.org_id))
            .details(serde_json::json!({ "kind": kind, "url": url })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends due streams every `poll` until `stop`.
pub async fn run_worker(state: AppState, poll: Duration, stop: CancellationToken) {
    while !stop.is_cancelled() {
        match due(&state).await {
            Ok(ids) => {
                for id in ids {
                    if stop.is_cancelled() {
                        break;
                    }
                    if let Err(err) = send_stream(&state, id).await {
                        tracing::warn!(?err, stream = id, "audit stream worker");
                    }
                }
            }
            Err(err) => tracing::warn!(?err, "audit stream worker: finding due streams"),
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Streams with events past their cursor and no failure waiting out its backoff.
async fn due(state: &AppState) -> Result<Vec<i64>, AppError> {
    let now = state.now();
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT s.id FROM audit_streams s JOIN audit_chains c ON c.org_key = s.org_id
         WHERE c.seq > s.cursor_seq AND s.next_attempt_at <= $1 AND s.lease_until <= $1
         ORDER BY s.next_attempt_at, s.id LIMIT 50",
    )
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Takes the stream (its lease), then sends batch after batch until it is caught up, a
/// batch fails, or the lease is lost.
async fn send_stream(state: &AppState, stream_id: i64) -> Result<(), AppError> {
    let now = state.now();
    let taken = sqlx::query(
        "UPDATE audit_streams SET lease_until = $1 WHERE id = $2 AND lease_until <= $3
            AND next_attempt_at <= $3",
    )
    .bind(now + LEASE_SECS)
    .bind(stream_id)
    .bind(now)
    .execute(&state.db.pool)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(()); // another replica has it
    }
    let row: Option<(i64, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT org_id, kind, url, secret, cursor_seq, failures FROM audit_streams WHERE id = $1",
    )
    .bind(stream_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((org_id, kind, url, secret, mut cursor, failures)) = row else {
        return Ok(());
    };
    let kind = StreamKind::parse(&kind)?;
    let Some(secret) = state
        .secret_key
        .decrypt(&secret, &secret_context(org_id, kind))
        .and_then(|s| String::from_utf8(s).ok())
    else {
        return fail(
            state,
            stream_id,
            failures,
            "The stored secret cannot be read.",
        )
        .await;
    };
    loop {
        let events = batch(state, org_id, cursor).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        let (body, content_type, headers) = encode(state, kind, &secret, &events);
        let answer = state
            .outbound
            .post(&url, content_type, &headers, body)
            .await;
        let error = match answer {
            Ok(status) if status.is_success() => None,
            Ok(status) => Some(format!("The receiver answered {status}.")),
            Err(err) => Some(err.to_string()),
        };
        if let Some(error) = error {
            return fail(state, stream_id, failures, &error).await;
        }
        let now = state.now();
        let moved = sqlx::query(
            "UPDATE audit_streams SET cursor_seq = $1, failures = 0, last_error = NULL,
                    last_success_at = $2, next_attempt_at = 0, lease_until = $3
             WHERE id = $4 AND cursor_seq = $5",
        )
        .bind(last)
        .bind(now)
        .bind(now + LEASE_SECS)
        .bind(stream_id)
        .bind(cursor)
        .execute(&state.db.pool)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(()); // removed meanwhile
        }
        cursor = last;
        if (events.len() as i64) < BATCH {
            break;
        }
    }
    sqlx::query("UPDATE audit_streams SET lease_until = 0 WHERE id = $1")
        .bind(stream_id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

async fn fail(
    state: &AppState,
    stream_id: i64,
    failures: i64,
    error: &str,
) -> Result<(), AppError> {
    let failures = failures + 1;
    let next = state.now() + backoff_secs(failures);
    sqlx::query(
        "UPDATE audit_streams SET failures = $1, last_error = $2, next_attempt_at = $3,
                lease_until = 0
         WHERE id = $4",
    )
    .bind(failures)
    .bind(error)
    .bind(next)
    .bind(stream_id)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// One audit event as a stream sends it.
#[derive(Debug, serde::Serialize)]
pub struct StreamedEvent {
    pub id: i64,
    pub org_id: i64,
    pub seq: i64,
    pub hash: String,
    pub action: String,
    pub target: String,
    pub actor_user_id: Option<i64>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub created_at: i64,
}

async fn batch(state: &AppState, org_id: i64, after: i64) -> Result<Vec<StreamedEvent>, AppError> {
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        Option<i64>,
        Option<String>,
        String,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, seq, hash, action, target, actor_user_id, ip, details, created_at
         FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(org_id)
    .bind(after)
    .bind(BATCH)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, seq, hash, action, target, actor_user_id, ip, details, created_at)| {
                StreamedEvent {
                    id,
                    org_id,
                    seq,
                    hash,
                    action,
                    target,
                    actor_user_id,
                    ip,
                    details: serde_json::from_str(&details)
                        .unwrap_or(serde_json::Value::String(details)),
                    created_at,
                }
            },
        )
        .collect())
}

type Encoded = (String, &'static str, Vec<(&'static str, String)>);

/// A batch's body, content type and headers. JSON Lines: one event per line, signed like a
/// webhook (`X-Gatehouse-Signature` over `"{timestamp}.{body}"`). Splunk HEC: one event
/// object per line (`time`, `source`, `sourcetype`, `event`), the token in `Authorization`.
pub fn encode(
    state: &AppState,
    kind: StreamKind,
    secret: &str,
    events: &[StreamedEvent],
) -> Encoded {
    let lines = |line: &dyn Fn(&StreamedEvent) -> serde_json::Value| {
        events
            .iter()
            .map(|e| format!("{}\n", line(e)))
            .collect::<String>()
    };
    let first = events.first().map_or(0, |e| e.seq);
    let last = events.last().map_or(0, |e| e.seq);
    match kind {
        StreamKind::JsonLines => {
            let body = lines(&|e| serde_json::json!(e));
            let timestamp = state.now();
            let headers = vec![
                ("x-gatehouse-timestamp", timestamp.to_string()),
                (
                    "x-gatehouse-signature",
                    crate::outbound::signature(secret, timestamp, &body),
                ),
                ("x-gatehouse-batch", format!("{first}-{last}")),
            ];
            (body, "application/x-ndjson", headers)
        }
        StreamKind::SplunkHec => {
            let body = lines(&|e| {
                serde_json::json!({
                    "time": e.created_at,
                    "host": "gatehouse",
                    "source": "gatehouse",
                    "sourcetype": "gatehouse:audit",
                    "event": e,
                })
            });
            let headers = vec![
                ("authorization", format!("Splunk {secret}")),
                ("x-gatehouse-batch", format!("{first}-{last}")),
            ];
            (body, "application/json", headers)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_5_seconds_up_to_5_minutes() {
        let waits: Vec<i64> = (1..=8).map(backoff_secs).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
    }
}
