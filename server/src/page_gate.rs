//! Who may open a page, decided before rendering: signed-out visitors of the signed-in pages
//! get a plain 302 to Sign in, and members the 2FA policy shuts out get 403.
//!
//! The pages themselves (app `SignedIn`) render the same outcomes for navigation inside the
//! browser; on the server they are decided here because a status or redirect set by a
//! component while the page streams can lose the race with the response headers (and a
//! redirect from a streaming page was seen to leave the response hanging under load).

use app::auth::server::{authenticate, current_org, RequestMeta};
use app::error::AppError;
use app::state::AppState;
use app::two_factor::model::Compliance;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};

/// Pages a non-compliant member may still open: where they set 2FA up, and signing in/out.
const PAGES_OPEN_TO_ALL: &[&str] = &["/profile", "/signin", "/signup", "/invite/", "/sso/"];

/// The pages that render with `SignedIn`: a visitor without a session is sent to Sign in.
const SIGNED_IN_PAGES: &[&str] = &[
    "/members",
    "/groups",
    "/scans",
    "/settings",
    "/audit",
    "/profile",
];

fn needs_sign_in(path: &str) -> bool {
    path == "/"
        || SIGNED_IN_PAGES.iter().any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

fn is_org_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/pkg/")
        || path == "/healthz"
        || path.contains('.')
        || PAGES_OPEN_TO_ALL.iter().any(|p| path.starts_with(p)))
}

pub async fn page_access(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let (org_page, sign_in_page) = (is_org_page(path), needs_sign_in(path));
    if req.method() != Method::GET || !(org_page || sign_in_page) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts, state.settings.trust_proxy_hops);
    let session = authenticate(&state, &meta).await;
    if let Err(err @ (AppError::DatabaseUnavailable { .. } | AppError::StorageFull { .. })) =
        &session
    {
        return unavailable_page(err);
    }
    if sign_in_page && matches!(session, Ok(None)) {
        return (StatusCode::FOUND, [(http::header::LOCATION, "/signin")]).into_response();
    }
    if !org_page {
        return next.run(Request::from_parts(parts, body)).await;
    }
    // Only the current organization's standing, not the whole session the page reads.
    let org = match session {
        Ok(Some(session)) => current_org(&state, &session).await.ok().flatten(),
        _ => None,
    };
    if let Some(org) = org.as_ref().filter(|org| org.sso_required) {
        // Through the organization's identity provider, then back to this page.
        let back = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let location = app::sso::routes::start_location(org.id, back);
        return (StatusCode::FOUND, [(http::header::LOCATION, location)]).into_response();
    }
    // The page renders the 2FA setup or the step-up in place of itself, answered 403.
    let blocked =
        org.is_some_and(|org| org.two_factor == Compliance::Blocked || org.step_up.is_some());
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if blocked && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    response
}

/// A page while the database is out of reach (or its disk full): a clear 503 that says so
/// and when to try again, instead of a page of errors.
fn unavailable_page(err: &AppError) -> Response {
    let retry = err.retry_after().unwrap_or(5);
    let title = match err {
        AppError::StorageFull { .. } => "Gatehouse's storage is full",
        _ => "Gatehouse cannot reach its database",
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{retry}\">\
         <title>Unavailable · Gatehouse</title><link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head>\
         <body><main class=\"page\"><section class=\"card narrow\" role=\"alert\">\
         <h1>{title}</h1><p>{}</p>\
         <p class=\"muted\">This page tries again by itself in {retry} seconds.</p>\
         </section></main></body></html>",
        err
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (
                http::header::CONTENT_TYPE,
                "text/html; charset=utf-8".to_string(),
            ),
            (http::header::RETRY_AFTER, retry.to_string()),
            (http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        html,
    )
        .into_response()
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
        for gated in [
            "/",
            "/members",
            "/groups/3",
            "/settings",
            "/audit",
            "/scans",
        ] {
            assert!(super::is_org_page(gated), "{gated}");
        }
    }

    #[test]
    fn signed_in_pages_are_known() {
        for page in [
            "/",
            "/members",
            "/groups",
            "/groups/3",
            "/scans",
            "/profile",
            "/audit",
        ] {
            assert!(super::needs_sign_in(page), "{page}");
        }
        for open in [
            "/signin",
            "/signup",
            "/invite/abc",
            "/no-such-page",
            "/membersx",
            "/api/v1/me",
        ] {
            assert!(!super::needs_sign_in(open), "{open}");
        }
    }
}
