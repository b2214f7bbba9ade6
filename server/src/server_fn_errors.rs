//! Server functions answer errors with status 500 and the `AppError` as JSON. This maps them,
//! in one place, to the error's own status (401, 403, 422, 429 + Retry-After, ...), so that
//! server functions and the REST API speak the same HTTP.

use app::error::AppError;
use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};

/// Error bodies are small; anything larger (or of unknown length) is passed through untouched.
const MAX_ERROR_BODY: u64 = 64 * 1024;

pub async fn map_status(req: Request, next: Next) -> Response {
    // Only server functions (mounted under /api/) answer errors as AppError JSON.
    let is_server_fn = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let small_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
        && HttpBody::size_hint(response.body())
            .exact()
            .is_some_and(|len| len <= MAX_ERROR_BODY);
    if !is_server_fn || !small_json || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY as usize).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::error!(error = %err, "reading a server function's error body");
            return Response::from_parts(parts, Body::empty());
        }
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status()) {
            parts.status = status;
        }
        if let Some(retry_after_secs) = err.retry_after() {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                parts.headers.insert(header::RETRY_AFTER, value);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
