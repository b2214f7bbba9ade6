//! The HTTP status of organization pages for members the 2FA policy shuts out: 403.
//!
//! The page itself (app `SignedIn`) renders the "Two-factor authentication required" page;
//! its status is decided here, before rendering, because a status set by a component while
//! the page streams can lose the race with the response headers.

use app::auth::server::{authenticate, current_org, RequestMeta};
use app::state::AppState;
use app::two_factor::model::Compliance;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode};

/// Pages a non-compliant member may still open: where they set 2FA up, and signing in/out.
const PAGES_OPEN_TO_ALL: &[&str] = &["/profile", "/signin", "/signup", "/invite/"];

fn is_org_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/pkg/")
        || path == "/healthz"
        || path.contains('.')
        || PAGES_OPEN_TO_ALL.iter().any(|p| path.starts_with(p)))
}

pub async fn page_status(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET || !is_org_page(req.uri().path()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts, state.settings.trust_proxy);
    let blocked = match authenticate(&state, &meta).await {
        // Only the current organization's standing, not the whole session the page reads.
        Ok(Some(session)) => current_org(&state, &session)
            .await
            .ok()
            .flatten()
            .is_some_and(|org| org.two_factor == Compliance::Blocked),
        _ => false,
    };
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if blocked && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_profile_and_sign_in_stay_open() {
        for open in [
            "/profile",
            "/signin",
            "/signin/two-factor",
            "/invite/abc",
            "/api/session",
            "/pkg/gatehouse.js",
        ] {
            assert!(!super::is_org_page(open), "{open}");
        }
        for gated in ["/", "/members", "/groups/3", "/settings", "/audit"] {
            assert!(super::is_org_page(gated), "{gated}");
        }
    }
}
