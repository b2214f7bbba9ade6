//! The browser's side of a round trip: plain GET routes, since the provider sends the browser
//! back with a redirect, and a page without wasm must be able to start one.
//!
//! - `GET /sso/start?email=…` or `?org=…` (and `next`): to the provider.
//! - `GET /sso/test?org=…`: the Owner's Test connection.
//! - `GET /sso/callback?code=…&state=…`: back from the provider.
//!
//! A round trip is bound to the browser that started it (a cookie whose value is hashed with
//! the state), so a callback URL made by someone else cannot sign this browser in to their
//! account (login cross-site request forgery).

use super::server::{self as sso, Callback, Landing, Refused};
use crate::auth::server::{self as auth, RequestMeta};
use crate::domain::Email;
use crate::policy::{authorize, Action};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::header::{LOCATION, SET_COOKIE};
use http::StatusCode;

/// Binds a round trip to its browser.
const BROWSER_COOKIE: &str = "gatehouse_sso";

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/sso/start", axum::routing::get(start))
        .route("/sso/test", axum::routing::get(test))
        .route("/sso/callback", axum::routing::get(callback))
        .with_state(state)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StartQuery {
    email: Option<String>,
    org: Option<i64>,
    next: Option<String>,
    /// `form`: the sign-in page's form sent it (see [`continue_page`]).
    via: Option<String>,
}

/// The pages' Content-Security-Policy allows forms to go to Gatehouse only (`form-action
/// 'self'`), and browsers apply that to a form's redirects too: the sign-in page's form gets
/// this page, which moves on to the provider itself (and says where, for a browser that does
/// not follow the refresh).
fn continue_page(url: &str, cookies: &[String]) -> Response {
    let escaped = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\
         <title>Single sign-on · Gatehouse</title></head><body>\
         <p><a href=\"{escaped}\">Continue to your identity provider</a></p></body></html>"
    );
    let response = (
        StatusCode::OK,
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response();
    with_cookies(response, cookies)
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let response = (StatusCode::SEE_OTHER, [(LOCATION, location.to_string())]).into_response();
    with_cookies(response, cookies)
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for cookie in cookies {
        if let Ok(value) = http::HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

fn sign_in_error(code: &str) -> Response {
    see_other(&format!("/signin?sso_error={code}"), &[])
}

fn meta(state: &AppState, parts: &http::request::Parts) -> RequestMeta {
    RequestMeta::from_parts(parts, state.settings.trust_proxy_hops)
}

/// Sends the browser to the provider with a fresh round trip bound to it.
async fn redirect_to_provider(
    state: &AppState,
    org_id: i64,
    tester: Option<i64>,
    next: Option<&str>,
    via_form: bool,
) -> Result<Response, Refused> {
    let browser = {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let url = sso::begin(state, org_id, tester, next, &browser).await?;
    let cookie = auth::cookie(state, BROWSER_COOKIE, &browser, sso::LOGIN_SECS as u64);
    Ok(if via_form {
        continue_page(&url, &[cookie])
    } else {
        see_other(&url, &[cookie])
    })
}

async fn start(
    State(state): State<AppState>,
    Query(query): Query<StartQuery>,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    // Each start stores a round trip: counted per client address like sign-in attempts.
    if let Some(ip) = meta(&state, &parts).ip {
        let limits = &state.settings.rate_limits;
        let bucket = auth::rate_limit::ip_bucket("sso-start-ip", &ip);
        if auth::rate_limit::hit(&state, &bucket, limits.ip_attempts, limits.window)
            .await
            .is_err()
        {
            return sign_in_error("rate_limited");
        }
    }
    let org_id = match (query.org, query.email.as_deref()) {
        (Some(org), _) => Some(org),
        (None, Some(email)) => match Email::parse(email) {
            Ok(email) => sso::org_for_email(&state, &email).await.ok().flatten(),
            Err(_) => None,
        },
        (None, None) => None,
    };
    let Some(org_id) = org_id else {
        return sign_in_error("no_provider");
    };
    let via_form = query.via.as_deref() == Some("form");
    match redirect_to_provider(&state, org_id, None, query.next.as_deref(), via_form).await {
        Ok(response) => response,
        Err(Refused::SignIn(code)) => sign_in_error(code),
        Err(Refused::Test) => see_other("/settings", &[]),
        Err(Refused::Error(err)) => {
            tracing::error!(error = %err, "single sign-on could not start");
            sign_in_error("failed")
        }
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct TestQuery {
    org: i64,
}

/// Test connection: a real round trip by the Owner; its result is shown on the panel.
async fn test(
    State(state): State<AppState>,
    Query(query): Query<TestQuery>,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let meta = meta(&state, &parts);
    let actor = match auth::org_actor_of(&state, &meta, query.org).await {
        Ok(actor) => actor,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = authorize(actor.role, Action::ManageOrganization) {
        return err.into_response();
    }
    match redirect_to_provider(
        &state,
        query.org,
        Some(actor.user_id),
        Some("/settings"),
        false,
    )
    .await
    {
        Ok(response) => response,
        Err(Refused::Error(err)) => err.into_response(),
        Err(_) => see_other("/settings", &[]),
    }
}

async fn callback(
    State(state): State<AppState>,
    Query(query): Query<Callback>,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let meta = meta(&state, &parts);
    let clear_browser = auth::cookie(&state, BROWSER_COOKIE, "", 0);
    // The state counts only together with the cookie of the browser that started it.
    let bound = match (
        query.state.as_deref(),
        auth::token_cookie(&parts.headers, BROWSER_COOKIE),
    ) {
        (Some(s), Some(browser)) => Some(sso::bound_state(s, &browser)),
        _ => None,
    };
    let callback = Callback {
        state: bound,
        ..query
    };
    let landing = sso::finish(&state, &meta, &callback).await;
    let secs = |d: std::time::Duration| d.as_secs();
    match landing {
        Ok(Landing::SignedIn {
            session_token,
            next,
        }) => {
            let session = auth::cookie(
                &state,
                auth::SESSION_COOKIE,
                &session_token,
                secs(state.settings.session_absolute),
            );
            see_other(&next, &[session, clear_browser])
        }
        Ok(Landing::SecondStep { challenge_token }) => {
            let challenge = auth::cookie(
                &state,
                auth::CHALLENGE_COOKIE,
                &challenge_token,
                crate::two_factor::server::CHALLENGE_SECS as u64,
            );
            see_other("/signin/two-factor", &[challenge, clear_browser])
        }
        Ok(Landing::LinkWithPassword { link_token }) => {
            let link = auth::cookie(&state, sso::LINK_COOKIE, &link_token, sso::LINK_SECS as u64);
            see_other("/signin?sso_error=link", &[link, clear_browser])
        }
        Ok(Landing::Tested) | Err(Refused::Test) => see_other("/settings", &[clear_browser]),
        Err(Refused::SignIn(code)) => {
            see_other(&format!("/signin?sso_error={code}"), &[clear_browser])
        }
        Err(Refused::Error(err)) => {
            tracing::error!(error = %err, "single sign-on could not finish");
            see_other("/signin?sso_error=failed", &[clear_browser])
        }
    }
}

/// `next` for a page that needs a session from `org_id`'s provider (see the page gate).
pub fn start_location(org_id: i64, next: &str) -> String {
    sso::start_path(org_id, Some(next))
}
