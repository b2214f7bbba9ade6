//! Refuses state-changing requests that another site's page made the browser send (CSRF).
//! Browsers tell us where a request comes from with `Sec-Fetch-Site` (all current ones) and
//! `Origin`; requests with neither come from non-browser clients, which carry no ambient
//! cookies of a victim, and pass.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};
use std::sync::Arc;

#[derive(Clone)]
pub struct AllowedOrigin(pub Arc<Option<String>>);

pub async fn guard(State(allowed): State<AllowedOrigin>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || is_same_site(&req, &allowed)
    {
        return next.run(req).await;
    }
    tracing::warn!(method = %req.method(), uri = %req.uri(), "cross-site request refused");
    let err = app::error::AppError::CrossSite;
    let body = serde_json::json!({
        "type": "about:blank",
        "title": err.to_string(),
        "status": 403,
        "code": err.code(),
    });
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn is_same_site(req: &Request, allowed: &AllowedOrigin) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none" is a navigation the user started (address bar, bookmark).
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if let Some(public) = allowed.0.as_deref() {
        return origin == public;
    }
    // Without a configured public URL, the origin must name the host the request was sent to.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    !host.is_empty() && origin_host == host
}
