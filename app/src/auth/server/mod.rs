//! Server side of auth: sessions in the database, password checks, sign-in rate limits.

pub mod confirm;
pub mod hashing;
pub mod password;
pub mod proof;
pub mod rate_limit;
pub mod store;

use super::model::{OrgSummary, SessionInfo};
use crate::audit;
use crate::domain::Email;
use crate::error::AppError;
use crate::state::AppState;
use crate::two_factor::model::Compliance;
use http::header::{COOKIE, SET_COOKIE};
use http::HeaderValue;
use leptos::prelude::use_context;
use proof::{Enrolled, Method, Proof};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "gatehouse_session";
/// Carries a sign-in that passed the password and waits for its second factor.
pub const CHALLENGE_COOKIE: &str = "gatehouse_2fa";
/// Carries an SSO identity waiting to be linked to the account with its email.
pub const LINK_COOKIE: &str = "gatehouse_sso_link";

/// What a server function needs to know about the request it serves.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    /// The client's User-Agent, cut to [`USER_AGENT_MAX`] characters (kept with a session).
    pub user_agent: Option<String>,
    /// The `Host` the request was sent to (as the client says: for messages only, never for
    /// links or security decisions).
    pub host: Option<String>,
    pub session_token: Option<String>,
    pub challenge_token: Option<String>,
    /// An SSO identity waiting to be linked to the account that signs in with its password.
    pub sso_link_token: Option<String>,
    /// What this request has already read about its sender (see [`RequestAuth`]).
    pub cache: Option<Arc<RequestAuth>>,
}

/// Who sent this request, read at most once per request. A page is one request, but the page
/// middleware, the shell's session, the page's resources and each org-scoped server function
/// they call all need the session and the user's organizations: without this each read them
/// again (17 queries for one members page). Lives in the request's extensions, so it is never
/// shared between requests; a change made by one request is seen by the next.
#[derive(Debug, Default)]
pub struct RequestAuth {
    session: tokio::sync::OnceCell<Option<Session>>,
    orgs: tokio::sync::OnceCell<Vec<OrgSummary>>,
}

/// Middleware: gives every request its own [`RequestAuth`].
pub async fn provide_request_auth(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    req.extensions_mut()
        .insert(Arc::new(RequestAuth::default()));
    next.run(req).await
}

/// The session a page renders with, read before rendering starts (see [`read_page_session`]).
#[derive(Debug, Clone)]
pub struct PageSession(pub Arc<Result<Option<SessionInfo>, AppError>>);

/// The signed-in person and their organizations as `current_session` answers it.
pub async fn page_session(
    state: &AppState,
    meta: &RequestMeta,
) -> Result<Option<SessionInfo>, AppError> {
    match authenticate(state, meta).await? {
        Some(session) => Ok(Some(session_info(state, &session).await?)),
        None => Ok(None),
    }
}

/// Reads the session of a page request into its extensions before the page renders, so the
/// shell has it at once and the page is built once per render (`layout::WithSession`).
/// Server functions (`/api/...`) read their own when they need it.
pub async fn read_page_session(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    if req.method() != http::Method::GET || path.starts_with("/api/") || path == "/healthz" {
        return next.run(req).await;
    }
    next.run(with_page_session(&state, req).await).await
}

/// `req` with its [`PageSession`] (for handlers that render a page themselves).
pub async fn with_page_session(
    state: &AppState,
    req: axum::extract::Request,
) -> axum::extract::Request {
    let (mut parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts, state.settings.trust_proxy_hops);
    let session = page_session(state, &meta).await;
    parts.extensions.insert(PageSession(Arc::new(session)));
    axum::extract::Request::from_parts(parts, body)
}

/// The session read for the page being rendered; signed out where none was read.
pub fn session_of_this_page() -> Result<Option<SessionInfo>, AppError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageSession>().cloned())
        .map(|page| (*page.0).clone())
        .unwrap_or(Ok(None))
}

/// A User-Agent longer than this is cut: it is only ever shown, never parsed for access.
pub const USER_AGENT_MAX: usize = 300;

/// Reads the client IP and session cookie from the request in context.
pub fn request_meta(state: &AppState) -> RequestMeta {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return RequestMeta::default();
    };
    RequestMeta::from_parts(&parts, state.settings.trust_proxy_hops)
}

impl RequestMeta {
    pub fn from_parts(parts: &http::request::Parts, trust_proxy_hops: usize) -> Self {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let ip = forwarded_client(&parts.headers, trust_proxy_hops).or(peer);
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(USER_AGENT_MAX).collect());
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        Self {
            ip: ip.map(|ip| ip.to_string()),
            user_agent,
            host,
            session_token: token_cookie(&parts.headers, SESSION_COOKIE),
            challenge_token: token_cookie(&parts.headers, CHALLENGE_COOKIE),
            sso_link_token: token_cookie(&parts.headers, LINK_COOKIE),
            cache: parts.extensions.get::<Arc<RequestAuth>>().cloned(),
        }
    }
}

/// The client address as our own proxies saw it: behind `hops` proxies we run, the entry
/// the outermost of them appended to `X-Forwarded-For`, counted from the right. Entries to
/// its left came from the client, which can write anything there (taking the leftmost would
/// let a client pick its own address for rate limits and the audit log).
fn forwarded_client(headers: &http::HeaderMap, hops: usize) -> Option<std::net::IpAddr> {
    if hops == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let entry = entries.get(entries.len().checked_sub(hops)?)?;
    entry.parse().ok().or_else(|| {
        // `ip:port` or `[v6]:port`, as some proxies write it.
        entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
    })
}

/// A cookie holding one of our 256-bit hex tokens; anything else is ignored.
pub fn token_cookie(headers: &http::HeaderMap, cookie: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.to_string())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The hash under which a session token is stored: the database never holds a usable token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A signed-in session, as found in the database.
#[derive(Debug, Clone)]
pub struct Session {
    /// The request's cache, for the user's organizations.
    cache: Option<Arc<RequestAuth>>,
    pub id_hash: String,
    pub user_id: i64,
    /// When this session last proved its owner (sign-in, or Confirm access).
    pub authenticated_at: i64,
    /// Whether the user has a second factor (read with the session).
    pub two_factor_enabled: bool,
    pub authenticator_app: bool,
    /// Whether the user has a security key or passkey (read with the session).
    pub has_passkey: bool,
    /// How this session was proven (its sign-in, step-ups and Confirm access since).
    pub proof: Proof,
    /// The expiry of the user's soonest-expiring key that they were warned about and have not
    /// dismissed (read with the session).
    pub key_expiry_at: Option<i64>,
    pub name: String,
    pub email: String,
    pub current_org_id: Option<i64>,
}

/// The session of this request, if its cookie names a live one (read once per request).
/// Expired sessions are deleted.
pub async fn authenticate(
    state: &AppState,
    meta: &RequestMeta,
) -> Result<Option<Session>, AppError> {
    match &meta.cache {
        Some(cache) => cache
            .session
            .get_or_try_init(|| read_session(state, meta))
            .await
            .cloned(),
        None => read_session(state, meta).await,
    }
}

async fn read_session(state: &AppState, meta: &RequestMeta) -> Result<Option<Session>, AppError> {
    let Some(token) = &meta.session_token else {
        return Ok(None);
    };
    let id_hash = token_hash(token);
    let now = state.now();
    let Some(row) = store::find_session(state, &id_hash, now).await? else {
        return Ok(None);
    };
    let idle = state.settings.session_idle.as_secs() as i64;
    if row.expires_at <= now || row.last_seen_at + idle <= now {
        store::delete_session(state, &id_hash).await?;
        return Ok(None);
    }
    // Writing on every request would make every page a write; a minute's precision is plenty.
    if now - row.last_seen_at >= 60 {
        store::touch_session(state, &id_hash, now, meta.ip.as_deref()).await?;
    }
    Ok(Some(Session {
        cache: meta.cache.clone(),
        id_hash,
        user_id: row.user_id,
        authenticated_at: row.authenticated_at,
        two_factor_enabled: row.two_factor_at.is_some(),
        authenticator_app: row.totp_enabled_at.is_some(),
        has_passkey: row.passkey_at.is_some(),
        proof: Proof::parse(&row.methods, row.sso_org_id),
        key_expiry_at: row.key_expiry_at,
        name: row.name,
        email: row.email,
        current_org_id: row.current_org_id,
    }))
}

/// The organization the pages show: the session's choice while the user is a member of it,
/// else their first organization by name.
fn pick_current(session: &Session, orgs: &[OrgSummary]) -> Option<OrgSummary> {
    session
        .current_org_id
        .and_then(|id| orgs.iter().find(|o| o.id == id))
        .or_else(|| orgs.first())
        .cloned()
}

impl Session {
    /// The user's organizations with their role and 2FA standing in each (read once per
    /// request).
    pub async fn orgs(&self, state: &AppState) -> Result<Vec<OrgSummary>, AppError> {
        match &self.cache {
            Some(cache) => cache
                .orgs
                .get_or_try_init(|| self.read_orgs(state))
                .await
                .cloned(),
            None => self.read_orgs(state).await,
        }
    }

    async fn read_orgs(&self, state: &AppState) -> Result<Vec<OrgSummary>, AppError> {
        let mut orgs = crate::orgs::store::orgs_of_user(state, self.user_id).await?;
        for org in &mut orgs {
            // A session that came through an organization's provider satisfies its
            // requirement; no other session does.
            if self.proof.via_provider_of(org.id) {
                org.sso_required = false;
                if org.would_deny == Some("sso") {
                    org.would_deny = None;
                }
            }
            org.step_up =
                proof::step_up_for(&self.proof, org.id, self.enrolled(), org.security_keys_only);
        }
        Ok(orgs)
    }

    pub fn enrolled(&self) -> Enrolled {
        Enrolled {
            two_factor: self.two_factor_enabled,
            passkey: self.has_passkey,
        }
    }

    /// Adds `method` to how this session was proven (a step-up, Confirm access, or a second
    /// factor set up in it).
    pub async fn add_method(&self, state: &AppState, method: Method) -> Result<(), AppError> {
        let methods = self.proof.clone().with(method).stored();
        sqlx::query("UPDATE sessions SET methods = $1 WHERE id_hash = $2")
            .bind(&methods)
            .bind(&self.id_hash)
            .execute(&state.db.pool)
            .await?;
        Ok(())
    }
}

/// Just the current organization, for checks that need nothing else.
pub async fn current_org(
    state: &AppState,
    session: &Session,
) -> Result<Option<OrgSummary>, AppError> {
    let orgs = session.orgs(state).await?;
    Ok(pick_current(session, &orgs))
}

pub async fn session_info(state: &AppState, session: &Session) -> Result<SessionInfo, AppError> {
    let orgs: Vec<OrgSummary> = session.orgs(state).await?;
    let current_org = pick_current(session, &orgs);
    let two_factor_enabled = session.two_factor_enabled;
    let two_factor_notices = if two_factor_enabled {
        Vec::new()
    } else {
        orgs.iter()
            .filter(|o| o.two_factor_notice)
            .map(|o| o.name.clone())
            .collect()
    };
    let key_expiry = session
        .key_expiry_at
        .map(|at| crate::dates::expires_in_words(at - state.now()));
    Ok(SessionInfo {
        two_factor_enabled,
        authenticator_app: session.authenticator_app,
        passkeys: session.has_passkey,
        two_factor_notices,
        key_expiry,
        user_id: session.user_id,
        name: session.name.clone(),
        email: session.email.clone(),
        orgs,
        current_org,
    })
}

/// Checks email and password under the rate limits. Returns the user's id.
///
/// Every attempt is counted before the password is verified, in one atomic statement per
/// bucket: of any number of concurrent guesses at one account, at most the account's limit
/// reach argon2 (a read-then-count-the-failure check let dozens through at once).
pub async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    raw_email: &str,
    raw_password: &str,
) -> Result<i64, AppError> {
    let limits = &state.settings.rate_limits;
    if let Some(ip) = &meta.ip {
        rate_limit::hit(
            state,
            &rate_limit::ip_bucket("signin-ip", ip),
            limits.ip_attempts,
            limits.window,
        )
        .await?;
    }
    // A malformed email cannot match an account; answer like a wrong password.
    let email = Email::parse(raw_email).ok();
    let account_bucket = email
        .as_ref()
        .map(|e| format!("signin-account:{}", e.normalized()));
    if let Some(bucket) = &account_bucket {
        rate_limit::hit(state, bucket, limits.account_failures, limits.window).await?;
    }
    let user = match &email {
        Some(email) => store::find_user_by_email(state, email).await?,
        None => None,
    };
    // Always run one argon2 verification, so unknown emails take as long as wrong passwords.
    let verified = password::verify(
        state,
        raw_password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    match (user, verified) {
        // Said only to someone who knows the password: a disabled account is not revealed
        // to guessers.
        (Some(user), true) if user.disabled => {
            audit::record_event(
                state,
                audit::Event::new("user.sign_in_refused", format!("user:{}", user.user_id))
                    .actor(user.user_id)
                    .ip(meta.ip.clone())
                    .details(serde_json::json!({"reason": "account_disabled"})),
            )
            .await?;
            Err(AppError::AccountDisabled)
        }
        (Some(user), true) => {
            let user_id = user.user_id;
            // A correct password ends the run of failures: the count is of consecutive ones.
            if let Some(bucket) = &account_bucket {
                rate_limit::reset(state, bucket).await?;
            }
            // In each of the person's organizations, where their admins see it.
            let mut tx = state.db.begin().await?;
            audit::record_for_user(
                &mut tx,
                state,
                user_id,
                audit::Event::new("user.sign_in", format!("user:{user_id}"))
                    .actor(user_id)
                    .ip(meta.ip.clone()),
            )
            .await?;
            tx.commit().await?;
            Ok(user_id)
        }
        (user, _) => {
            metrics::counter!("gatehouse_sign_in_failures_total", "reason" => "wrong_password")
                .increment(1);
            let target = email
                .map(|e| format!("email:{}", e.normalized()))
                .unwrap_or_default();
            audit::record_event(
                state,
                audit::Event::new("user.sign_in_failed", target)
                    .actor_opt(user.map(|u| u.user_id))
                    .ip(meta.ip.clone()),
            )
            .await?;
            Err(AppError::InvalidCredentials)
        }
    }
}

/// `next` after sign-in, if it is a path on this site, normalized; else `None`.
///
/// An open redirect lets a link through our sign-in page land people on any site. Browsers
/// strip tabs and newlines from URLs and read `\\` as `/`, so `/\t/evil.example` would
/// become `//evil.example`: anything with control characters, whitespace or backslashes is
/// refused outright, and what is left must resolve, against our own origin, to our origin.
pub fn local_redirect(raw: &str) -> Option<String> {
    if !raw.starts_with('/')
        || raw.starts_with("//")
        || raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let base = reqwest::Url::parse("http://gatehouse.invalid/").ok()?;
    let url = base.join(raw).ok()?;
    if url.origin() != base.origin() || url.path().starts_with("//") {
        return None;
    }
    let mut path = url.path().to_string();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

/// Counts an account creation (sign-up, or accepting an invitation as a new person) against
/// the client's address: each costs an argon2 hash, so an unauthenticated client gets a few
/// per window, counted before any hashing.
pub async fn limit_account_creation(state: &AppState, meta: &RequestMeta) -> Result<(), AppError> {
    let limits = &state.settings.rate_limits;
    match &meta.ip {
        Some(ip) => {
            rate_limit::hit(
                state,
                &rate_limit::ip_bucket("new-account-ip", ip),
                limits.account_creations_per_ip,
                limits.window,
            )
            .await
        }
        None => Ok(()),
    }
}

/// Starts a new session (a fresh id: any session the request carried is ended, so an id
/// planted before sign-in is worthless after it) and sets the cookie.
pub async fn start_session(
    state: &AppState,
    meta: &RequestMeta,
    user_id: i64,
    current_org_id: Option<i64>,
    proof: &Proof,
) -> Result<(), AppError> {
    let token = open_session(state, meta, user_id, current_org_id, proof).await?;
    set_cookie(
        state,
        SESSION_COOKIE,
        &token,
        state.settings.session_absolute.as_secs(),
    );
    Ok(())
}

/// [`start_session`] without the cookie: answers the new session's token. `proof` is how the
/// person signed in (with the organization whose provider they came through, if any).
pub async fn open_session(
    state: &AppState,
    meta: &RequestMeta,
    user_id: i64,
    current_org_id: Option<i64>,
    proof: &Proof,
) -> Result<String, AppError> {
    if let Some(old) = &meta.session_token {
        store::delete_session(state, &token_hash(old)).await?;
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let now = state.now();
    let expires_at = now + state.settings.session_absolute.as_secs() as i64;
    store::insert_session(
        state,
        store::NewSession {
            id_hash: &token_hash(&token),
            user_id,
            current_org_id,
            now,
            expires_at,
            user_agent: meta.user_agent.as_deref(),
            ip: meta.ip.as_deref(),
            sso_org_id: proof.sso_org_id(),
            methods: &proof.stored(),
        },
    )
    .await?;
    Ok(token)
}

pub async fn end_session(state: &AppState, meta: &RequestMeta) -> Result<(), AppError> {
    if let Some(session) = authenticate(state, meta).await? {
        let mut tx = state.db.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&session.id_hash)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            state,
            audit::Event::new("user.sign_out", format!("user:{}", session.user_id))
                .actor(session.user_id)
                .ip(meta.ip.clone()),
        )
        .await?;
        tx.commit().await?;
    }
    set_cookie(state, SESSION_COOKIE, "", 0);
    Ok(())
}

/// The signed-in session of this request, or 401.
pub async fn signed_in(state: &AppState) -> Result<(Session, RequestMeta), AppError> {
    let meta = request_meta(state);
    let session = authenticate(state, &meta)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    Ok((session, meta))
}

/// A `Set-Cookie` value for one of our cookies (HttpOnly, SameSite=Lax, Secure when served
/// over https).
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    let secure = if state.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: u64) {
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&cookie(state, name, value, max_age)),
    ) {
        response.append_header(SET_COOKIE, value);
    }
}

/// Refuses a sensitive action in an organization (deleting it, its security settings) when
/// the session last proved its owner too long ago: 403 `reauthentication_required`, answered
/// by Confirm access. The actor passed the organization's own bar (step-up) already.
pub fn require_recent_auth(state: &AppState, authenticated_at: i64) -> Result<(), AppError> {
    if state.now() - authenticated_at <= state.settings.reauth_window.as_secs() as i64 {
        Ok(())
    } else {
        Err(AppError::ReauthenticationRequired)
    }
}

/// [`require_recent_auth`] for a sensitive change to the account itself (2FA, recovery codes,
/// security keys, API keys, the password): the session must also prove the account, with one
/// of Gatehouse's own second factors when 2FA is on (403 `step_up_required`). A session made
/// by one organization's provider and its MFA cannot change what every other organization
/// of the person relies on.
pub fn require_recent_session(state: &AppState, session: &Session) -> Result<(), AppError> {
    if !proof::proves_account(&session.proof, session.enrolled()) {
        return Err(AppError::StepUpRequired {
            org_id: None,
            security_key: false,
        });
    }
    require_recent_auth(state, session.authenticated_at)
}

/// The signed-in person's password, typed again for a sensitive change (the field `password`).
pub async fn check_password(
    state: &AppState,
    user_id: i64,
    password: &str,
) -> Result<(), AppError> {
    let hash = store::password_hash(state, user_id).await?;
    if !password::verify(state, password, Some(hash)).await? {
        return Err(AppError::invalid("password", "That is not your password."));
    }
    Ok(())
}

/// Changes the password (the current one proves the person) and ends every other session of
/// the user: whoever knew the old password is signed out everywhere.
pub async fn change_password(
    state: &AppState,
    session: &Session,
    ip: Option<String>,
    current: &str,
    new: crate::domain::Password,
) -> Result<(), AppError> {
    require_recent_session(state, session)?;
    let limits = &state.settings.rate_limits;
    let bucket = format!("signin-account:{}", session.email.to_lowercase());
    rate_limit::hit(state, &bucket, limits.account_failures, limits.window).await?;
    let hash = store::password_hash(state, session.user_id).await?;
    if !password::verify(state, current, Some(hash)).await? {
        return Err(AppError::invalid(
            "current_password",
            "That is not your current password.",
        ));
    }
    rate_limit::reset(state, &bucket).await?;
    let new_hash = password::hash(state, new).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&new_hash)
        .bind(session.user_id)
        .execute(&mut *tx)
        .await?;
    let ended = store::end_other_sessions(&mut tx, session.user_id, &session.id_hash).await?;
    audit::record_for_user(
        &mut tx,
        state,
        session.user_id,
        audit::Event::new("user.password_changed", format!("user:{}", session.user_id))
            .actor(session.user_id)
            .ip(ip)
            .details(serde_json::json!({ "other_sessions_ended": ended })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Changes the person's name (on their memberships and in member search too, by the
/// database's triggers, in the same transaction).
pub async fn change_name(
    state: &AppState,
    session: &Session,
    ip: Option<String>,
    name: crate::domain::PersonName,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
        .bind(name.as_str())
        .bind(session.user_id)
        .execute(&mut *tx)
        .await?;
    audit::record_for_user(
        &mut tx,
        state,
        session.user_id,
        audit::Event::new("user.renamed", format!("user:{}", session.user_id))
            .actor(session.user_id)
            .ip(ip)
            .details(serde_json::json!({ "from": session.name, "to": name.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A signed-in member acting in one organization, with their current role.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub org_id: i64,
    pub role: crate::domain::Role,
    pub ip: Option<String>,
    /// When the session last proved its owner (0 for API keys: no sensitive actions).
    pub authenticated_at: i64,
}

impl Actor {
    /// An audit event by this actor in this organization.
    pub fn event(&self, action: &'static str, target: impl Into<String>) -> audit::Event {
        audit::Event::new(action, target)
            .org(self.org_id)
            .actor(self.user_id)
            .ip(self.ip.clone())
    }
}

/// The signed-in member acting in `org_id`. Signed out: 401. Not a member of that
/// organization: 404, as if it did not exist (no existence leaks across tenants). A member
/// the organization's 2FA policy shuts out: 403 `two_factor_required`.
pub async fn org_actor(state: &AppState, org_id: i64) -> Result<Actor, AppError> {
    let meta = request_meta(state);
    org_actor_of(state, &meta, org_id).await
}

/// [`org_actor`] for a plain axum handler (a download), from its request's metadata.
pub async fn org_actor_of(
    state: &AppState,
    meta: &RequestMeta,
    org_id: i64,
) -> Result<Actor, AppError> {
    let session = authenticate(state, meta)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let meta = meta.clone();
    // The role and 2FA standing come with the user's organizations, read once per request.
    let org = session
        .orgs(state)
        .await?
        .into_iter()
        .find(|o| o.id == org_id)
        .ok_or(AppError::NotFound)?;
    if org.sso_required {
        return Err(AppError::SsoRequired { org_id });
    }
    if org.two_factor == Compliance::Blocked {
        return Err(AppError::TwoFactorRequired {
            security_keys_only: org.security_keys_only,
        });
    }
    if let Some(step_up) = org.step_up {
        return Err(AppError::StepUpRequired {
            org_id: Some(org_id),
            security_key: step_up == crate::auth::model::StepUp::SecurityKey,
        });
    }
    if let Some(policy) = org.would_deny {
        crate::report_only::note(
            state,
            crate::report_only::Denial {
                org_id,
                policy,
                user_id: session.user_id,
                key_id: 0,
                ip: meta.ip.clone(),
                agent: meta.user_agent.clone(),
            },
        );
    }
    Ok(Actor {
        user_id: session.user_id,
        name: session.name,
        email: session.email,
        org_id,
        role: org.role,
        ip: meta.ip,
        authenticated_at: session.authenticated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::{forwarded_client, local_redirect};

    #[test]
    fn the_client_address_is_the_one_our_proxies_added() {
        let headers = |values: &[&str]| {
            let mut h = http::HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().expect("header"));
            }
            h
        };
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().expect("ip"));
        // A client that writes its own X-Forwarded-For gets it ignored.
        let spoofed = headers(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(forwarded_client(&spoofed, 1), ip("203.0.113.9"));
        assert_eq!(forwarded_client(&spoofed, 0), None);
        // Two proxies: the outer one appended the client, the inner one the outer proxy.
        let chain = headers(&["6.6.6.6", "203.0.113.9, 10.0.0.2"]);
        assert_eq!(forwarded_client(&chain, 2), ip("203.0.113.9"));
        assert_eq!(forwarded_client(&headers(&["10.0.0.2"]), 2), None);
        assert_eq!(
            forwarded_client(&headers(&["[2001:db8::1]:4711"]), 1),
            ip("2001:db8::1")
        );
        assert_eq!(forwarded_client(&headers(&["not-an-ip"]), 1), None);
    }

    #[test]
    fn only_same_site_paths_are_followed_after_sign_in() {
        for good in ["/", "/members", "/invite/abc?x=1", "/groups/3"] {
            assert_eq!(local_redirect(good).as_deref(), Some(good), "{good}");
        }
        assert_eq!(local_redirect("/a/../b").as_deref(), Some("/b"));
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "/ /evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/\u{2028}/evil.example",
        ] {
            assert_eq!(local_redirect(bad), None, "{bad:?}");
        }
    }
}
