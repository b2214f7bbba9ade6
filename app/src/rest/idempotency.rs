//! `Idempotency-Key` on the REST API's POSTs (the IETF httpapi draft, with Stripe's
//! semantics): a client that did not get an answer sends the same request again with the same
//! key and gets the first answer, not a second change — on any replica, after any restart,
//! for 24 hours.
//!
//! The key is scoped to the API key that sent it (two clients never share answers). Its first
//! use claims it, in the database, before the handler runs; the answer is stored when it is
//! final (any status below 500 but 401 and 429, which changed nothing). A 5xx answer lets go
//! of the claim, so a retry runs the request again. The same key with another body (or
//! another method or path) is refused, 422 `idempotency_key_reused`; a retry while the first
//! request still runs gets 409 `idempotency_key_in_use` (a claim older than twice the request
//! deadline was abandoned by a process that stopped, and is claimed again).

use crate::error::AppError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
/// How long an answer is kept for a retry.
pub const RETENTION_SECS: i64 = 24 * 3600;
/// Answers larger than this are not kept (none of the API's POSTs answers that much).
const MAX_STORED_BODY: usize = 256 * 1024;
const MAX_KEY_LEN: usize = 255;

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

/// The key the client sent, if it sent one that parses.
fn idempotency_key(req: &Request) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            AppError::invalid(
                "Idempotency-Key",
                format!(
                    "An Idempotency-Key is 1 to {MAX_KEY_LEN} visible ASCII characters, e.g. a UUID."
                ),
            )
        })?;
    Ok(Some(key.to_string()))
}

/// What a stored answer holds.
#[derive(sqlx::FromRow)]
struct Stored {
    fingerprint: String,
    status: Option<i64>,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<String>,
    created_at: i64,
}

/// Middleware of the REST router.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = match idempotency_key(&req) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(req).await,
        Err(err) => return err.into_response(),
    };
    // Scoped to the API key that sent it (its hash; the handler checks the key itself).
    let Some(bearer) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, super::extract::BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return AppError::PayloadTooLarge.into_response(),
    };
    let scope = sha256_hex(&[bearer.as_bytes()]);
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_default();
    let fingerprint = sha256_hex(&[parts.method.as_str().as_bytes(), target.as_bytes(), &bytes]);
    match claim(&state, &scope, &key, &fingerprint).await {
        Ok(Claim::Ours) => {}
        Ok(Claim::Replay(stored)) => return replay(stored),
        Err(err) => return err.into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    keep(&state, &scope, &key, response).await
}

enum Claim {
    /// This request claimed the key: it runs, and its answer is kept.
    Ours,
    /// An answer to the same request: send it again.
    Replay(Stored),
}

async fn claim(
    state: &AppState,
    scope: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, AppError> {
    let now = state.now();
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key_hash, idem_key, fingerprint, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (key_hash, idem_key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Ours);
        }
        let stored: Option<Stored> = sqlx::query_as(
            "SELECT fingerprint, status, content_type, location, body, created_at
             FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&state.db.pool)
        .await?;
        let Some(stored) = stored else {
            // Let go of in between (a 5xx answer): claim it again.
            continue;
        };
        if stored.created_at + RETENTION_SECS <= now {
            // Older than the retention: a new use of the key.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2
                 AND created_at = $3",
            )
            .bind(scope)
            .bind(key)
            .bind(stored.created_at)
            .execute(&state.db.pool)
            .await?;
            continue;
        }
        if stored.fingerprint != fingerprint {
            return Err(AppError::IdempotencyKeyReused);
        }
        if stored.status.is_none() {
            // Still running — unless it was claimed longer ago than any request may take (its
            // process stopped in the middle): then it is claimed again and runs.
            let abandoned_after = 2 * state.settings.request_deadline.as_secs() as i64;
            if stored.created_at + abandoned_after > now {
                return Err(AppError::IdempotencyKeyInUse);
            }
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2
                 AND created_at = $3 AND status IS NULL",
            )
            .bind(scope)
            .bind(key)
            .bind(stored.created_at)
            .execute(&state.db.pool)
            .await?;
            continue;
        }
        return Ok(Claim::Replay(stored));
    }
    Err(AppError::IdempotencyKeyInUse)
}

/// Keeps the answer of a request that claimed its key (or lets go of the claim).
async fn keep(state: &AppState, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    let final_answer = status.as_u16() < 500
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::TOO_MANY_REQUESTS;
    let (parts, body) = response.into_parts();
    let bytes: Option<Bytes> = if final_answer {
        axum::body::to_bytes(body, MAX_STORED_BODY).await.ok()
    } else {
        // Not kept: answered as it is, and a retry runs again.
        let release = Finish::Release {
            scope: scope.to_string(),
            key: key.to_string(),
        };
        release.run_or_retry(state).await;
        return Response::from_parts(parts, body);
    };
    let Some(bytes) = bytes else {
        tracing::error!("an answer to keep for an Idempotency-Key was too large to read");
        return AppError::Internal.into_response();
    };
    let header_text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let store = Finish::Store {
        scope: scope.to_string(),
        key: key.to_string(),
        status: i64::from(status.as_u16()),
        content_type: header_text(header::CONTENT_TYPE),
        location: header_text(header::LOCATION),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    store.run_or_retry(state).await;
    Response::from_parts(parts, Body::from(bytes))
}

/// What becomes of a claim once its request is answered.
#[derive(Clone)]
enum Finish {
    /// Keep the answer, for retries.
    Store {
        scope: String,
        key: String,
        status: i64,
        content_type: Option<String>,
        location: Option<String>,
        body: String,
    },
    /// Let go of the claim (a 5xx answer, after which nothing had changed): a retry runs.
    Release { scope: String, key: String },
}

/// How long a claim's end is retried when the database did not take it (it went away right
/// after the request's own work): until then a retry is told the key is in use.
const FINISH_RETRY: std::time::Duration = std::time::Duration::from_secs(120);

impl Finish {
    async fn run(&self, state: &AppState) -> Result<(), sqlx::Error> {
        match self {
            Self::Store {
                scope,
                key,
                status,
                content_type,
                location,
                body,
            } => sqlx::query(
                "UPDATE idempotency_keys SET status = $1, content_type = $2, location = $3,
                        body = $4
                 WHERE key_hash = $5 AND idem_key = $6",
            )
            .bind(*status)
            .bind(content_type)
            .bind(location)
            .bind(body)
            .bind(scope)
            .bind(key)
            .execute(&state.db.pool)
            .await
            .map(|_| ()),
            Self::Release { scope, key } => sqlx::query(
                "DELETE FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2
                 AND status IS NULL",
            )
            .bind(scope)
            .bind(key)
            .execute(&state.db.pool)
            .await
            .map(|_| ()),
        }
    }

    /// Now, or (the database just went away) again in the background until it takes it: the
    /// answer already given stands either way.
    async fn run_or_retry(self, state: &AppState) {
        let Err(err) = self.run(state).await else {
            return;
        };
        tracing::warn!(error = %err, "an Idempotency-Key's answer could not be recorded yet; retrying");
        let state = state.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            while started.elapsed() < FINISH_RETRY {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                if self.run(&state).await.is_ok() {
                    return;
                }
            }
            tracing::error!("an Idempotency-Key's answer was never recorded; its claim stays until it is abandoned");
        });
    }
}

fn replay(stored: Stored) -> Response {
    let status = stored
        .status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body.unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
