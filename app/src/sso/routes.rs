//! The browser's side of a round trip: plain routes, since the provider sends the browser
//! back with a redirect, and a page without wasm must be able to start one.
//!
//! - `GET /sso/start?email=…` or `?org=…` (and `next`): a page that names the organization and
//!   its provider and asks to continue; nothing is started by a GET, so another site cannot
//!   start a round trip in a visitor's browser (login cross-site request forgery).
//! - `POST /sso/start` (`email` or `org`, `next`): under the cross-site guard, starts the
//!   round trip and sends the browser to the provider. The sign-in page's form posts here.
//! - `POST /sso/test` (`org`): the Owner's Test connection.
//! - `GET /sso/callback/{org}?code=…&state=…`: back from that organization's provider (and
//!   `GET /sso/callback`, the shared callback of earlier versions, when the provider says
//!   which issuer answered).
//! - `GET /sso/link`, `POST /sso/link`: after a password sign-in, asks whether to link the
//!   identity that waits for the account, naming the organization and the provider.
//!
//! A round trip is bound to the browser that started it (a cookie whose value is hashed with
//! the state), so a callback URL made by someone else cannot sign this browser in to their
//! account. A start by organization answers the same for one that does not exist, does not
//! use single sign-on, or is not the signed-in person's: walking ids lists nothing.

use super::server::{self as sso, Callback, Landing, Refused};
use crate::auth::server::{self as auth, RequestMeta};
use crate::domain::Email;
use crate::policy::{authorize, Action};
use crate::state::AppState;
use axum::extract::{Form, FromRequest, Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::header::{LOCATION, SET_COOKIE};
use http::StatusCode;

/// Binds a round trip to its browser.
const BROWSER_COOKIE: &str = "gatehouse_sso";

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/sso/start", axum::routing::get(ask_to_start).post(start))
        .route("/sso/test", axum::routing::post(test))
        .route("/sso/callback", axum::routing::get(legacy_callback))
        .route("/sso/callback/{org}", axum::routing::get(callback))
        .route("/sso/link", axum::routing::get(ask_to_link).post(link))
        .with_state(state)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StartQuery {
    email: Option<String>,
    org: Option<i64>,
    next: Option<String>,
}

/// HTML text, escaped for an element's content or an attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A small page of Gatehouse's own (the routes here render without the app).
fn plain_page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Gatehouse</title><link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head>\
         <body><header class=\"topbar\"><a class=\"brand\" href=\"/\">Gatehouse</a></header>\
         <main class=\"page\"><section class=\"card narrow\">{body}</section></main></body></html>",
        escape(title)
    );
    (
        StatusCode::OK,
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// The host part of an issuer URL, as people recognize it.
fn provider_name(issuer: &str) -> String {
    reqwest::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| issuer.to_string())
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

/// A form POST's request metadata and fields, or `None` when the fields do not parse.
async fn form_of<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: axum::extract::Request,
) -> Option<(RequestMeta, T)> {
    let (parts, body) = request.into_parts();
    let meta = meta(state, &parts);
    let Form(form) = Form::<T>::from_request(axum::extract::Request::from_parts(parts, body), &())
        .await
        .ok()?;
    Some((meta, form))
}

/// Sends the browser to the provider with a fresh round trip bound to it (by way of
/// [`continue_page`]: the start is a form's POST).
async fn redirect_to_provider(
    state: &AppState,
    org_id: i64,
    tester: Option<i64>,
    next: Option<&str>,
) -> Result<Response, Refused> {
    let browser = {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let url = sso::begin(state, org_id, tester, next, &browser).await?;
    let cookie = auth::cookie(state, BROWSER_COOKIE, &browser, sso::LOGIN_SECS as u64);
    Ok(continue_page(&url, &[cookie]))
}

/// Where a start by `email` or `org` leads, or `None` (answered like "no provider").
async fn resolve(state: &AppState, meta: &RequestMeta, query: &StartQuery) -> Option<sso::Target> {
    let found = match (query.org, query.email.as_deref()) {
        (Some(org), _) => sso::target_for_member(state, meta, org).await,
        (None, Some(email)) => match Email::parse(email) {
            Ok(email) => sso::target_for_email(state, &email).await,
            Err(_) => Ok(None),
        },
        (None, None) => Ok(None),
    };
    found.unwrap_or_else(|err| {
        tracing::error!(error = %err, "single sign-on could not look up the provider");
        None
    })
}

/// `GET /sso/start`: names the organization and its provider and asks to continue, with a
/// form that posts the start. Starts nothing.
async fn ask_to_start(
    State(state): State<AppState>,
    Query(query): Query<StartQuery>,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let meta = meta(&state, &parts);
    let Some(target) = resolve(&state, &meta, &query).await else {
        return sign_in_error("no_provider");
    };
    let (field, value) = match (&query.org, &query.email) {
        (Some(org), _) => ("org", org.to_string()),
        (None, Some(email)) => ("email", email.clone()),
        (None, None) => return sign_in_error("no_provider"),
    };
    let next = query
        .next
        .as_deref()
        .and_then(auth::local_redirect)
        .unwrap_or_default();
    let provider = provider_name(&target.issuer);
    let body = format!(
        "<h1>Single sign-on</h1>\
         <p>{org} signs its members in through its identity provider at <strong>{provider}</strong> \
         (<code>{issuer}</code>).</p>\
         <form method=\"post\" action=\"/sso/start\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{value}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <button type=\"submit\" class=\"button\">Continue to {provider}</button></form>\
         <p class=\"muted\">Didn't mean to? <a href=\"/signin\">Back to Sign in</a>.</p>",
        org = escape(&target.org_name),
        provider = escape(&provider),
        issuer = escape(&target.issuer),
        value = escape(&value),
        next = escape(&next),
    );
    plain_page("Single sign-on", &body)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StartForm {
    email: Option<String>,
    org: Option<String>,
    next: Option<String>,
}

/// `POST /sso/start`: the round trip, for a form of Gatehouse's own pages (the cross-site
/// guard refuses another site's).
async fn start(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let Some((meta, form)) = form_of::<StartForm>(&state, request).await else {
        return sign_in_error("no_provider");
    };
    // Each start stores a round trip: counted per client address like sign-in attempts.
    if let Some(ip) = &meta.ip {
        let limits = &state.settings.rate_limits;
        let bucket = auth::rate_limit::ip_bucket("sso-start-ip", ip);
        if auth::rate_limit::hit(&state, &bucket, limits.ip_attempts, limits.window)
            .await
            .is_err()
        {
            return sign_in_error("rate_limited");
        }
    }
    let query = StartQuery {
        email: form.email.filter(|e| !e.trim().is_empty()),
        org: form.org.and_then(|o| o.trim().parse().ok()),
        next: form.next.filter(|n| !n.is_empty()),
    };
    let Some(target) = resolve(&state, &meta, &query).await else {
        return sign_in_error("no_provider");
    };
    match redirect_to_provider(&state, target.org_id, None, query.next.as_deref()).await {
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
pub struct TestForm {
    org: i64,
}

/// Test connection: a real round trip by the Owner; its result is shown on the panel.
async fn test(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let Some((meta, form)) = form_of::<TestForm>(&state, request).await else {
        return crate::error::AppError::NotFound.into_response();
    };
    let actor = match auth::org_actor_of(&state, &meta, form.org).await {
        Ok(actor) => actor,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = authorize(actor.role, Action::ManageOrganization) {
        return err.into_response();
    }
    match redirect_to_provider(&state, form.org, Some(actor.user_id), Some("/settings")).await {
        Ok(response) => response,
        Err(Refused::Error(err)) => err.into_response(),
        Err(_) => see_other("/settings", &[]),
    }
}

/// Back from `org`'s provider.
async fn callback(
    State(state): State<AppState>,
    Path(org): Path<i64>,
    Query(query): Query<Callback>,
    request: axum::extract::Request,
) -> Response {
    finish(&state, Some(org), query, request).await
}

/// Back to the shared callback of earlier versions (a provider not yet given its
/// connection's own redirect URI): finished only when the provider says which issuer
/// answered (RFC 9207 `iss`).
async fn legacy_callback(
    State(state): State<AppState>,
    Query(query): Query<Callback>,
    request: axum::extract::Request,
) -> Response {
    finish(&state, None, query, request).await
}

async fn finish(
    state: &AppState,
    callback_org: Option<i64>,
    query: Callback,
    request: axum::extract::Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let meta = meta(state, &parts);
    let clear_browser = auth::cookie(state, BROWSER_COOKIE, "", 0);
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
    let landing = sso::finish(state, &meta, &callback, callback_org).await;
    let secs = |d: std::time::Duration| d.as_secs();
    match landing {
        Ok(Landing::SignedIn {
            session_token,
            next,
        }) => {
            let session = auth::cookie(
                state,
                auth::SESSION_COOKIE,
                &session_token,
                secs(state.settings.session_absolute),
            );
            see_other(&next, &[session, clear_browser])
        }
        Ok(Landing::SecondStep { challenge_token }) => {
            let challenge = auth::cookie(
                state,
                auth::CHALLENGE_COOKIE,
                &challenge_token,
                crate::two_factor::server::CHALLENGE_SECS as u64,
            );
            see_other("/signin/two-factor", &[challenge, clear_browser])
        }
        Ok(Landing::LinkWithPassword { link_token }) => {
            let link = auth::cookie(state, sso::LINK_COOKIE, &link_token, sso::LINK_SECS as u64);
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

/// `GET /sso/link`: after a password sign-in, the identity waiting for this account, named
/// with its organization and provider, and a question.
async fn ask_to_link(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, _) = request.into_parts();
    let meta = meta(&state, &parts);
    let session = match auth::authenticate(&state, &meta).await {
        Ok(Some(session)) => session,
        Ok(None) => return see_other("/signin", &[]),
        Err(err) => return err.into_response(),
    };
    let pending = match sso::pending_link(&state, &meta, session.user_id).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return see_other("/", &[]),
        Err(err) => return err.into_response(),
    };
    let provider = provider_name(&pending.issuer);
    let body = format!(
        "<h1>Link single sign-on?</h1>\
         <p>{org}'s identity provider at <strong>{provider}</strong> (<code>{issuer}</code>) \
         signed someone in as <strong>{email}</strong>. Linked, it signs you in to this account \
         ({account}) from now on, without your password.</p>\
         <p>Link only if you just chose <em>Sign in with single sign-on</em> yourself. \
         If you did not, choose Don't link.</p>\
         <form method=\"post\" action=\"/sso/link\" class=\"inline-form\">\
         <button type=\"submit\" name=\"decision\" value=\"link\" class=\"button\">Link {provider}</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\" class=\"button secondary\">Don't link</button>\
         </form>",
        org = escape(&pending.org_name),
        provider = escape(&provider),
        issuer = escape(&pending.issuer),
        email = escape(&pending.email),
        account = escape(&session.email),
    );
    plain_page("Link single sign-on", &body)
}

#[derive(Debug, serde::Deserialize)]
pub struct LinkForm {
    decision: String,
}

/// `POST /sso/link`: the answer.
async fn link(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let Some((meta, form)) = form_of::<LinkForm>(&state, request).await else {
        return crate::error::AppError::invalid("decision", "Choose Link or Don't link.")
            .into_response();
    };
    let session = match auth::authenticate(&state, &meta).await {
        Ok(Some(session)) => session,
        Ok(None) => return see_other("/signin", &[]),
        Err(err) => return err.into_response(),
    };
    let clear = auth::cookie(&state, sso::LINK_COOKIE, "", 0);
    match sso::decide_link(&state, &meta, session.user_id, form.decision == "link").await {
        Ok(_) => see_other("/", &[clear]),
        Err(err) => err.into_response(),
    }
}

/// `next` for a page that needs a session from `org_id`'s provider (see the page gate).
pub fn start_location(org_id: i64, next: &str) -> String {
    sso::start_path(org_id, Some(next))
}
