//! Single sign-on on the server: the organization's connection (stored with its client secret
//! encrypted), the round trips to the provider, just-in-time accounts and linking.

use super::model::{EmailDomains, SsoConnection, SsoSettings};
use super::oidc::{self, Failure, Identity, Registration};
use crate::audit;
use crate::auth::server::{self as auth, Actor, RequestMeta};
use crate::domain::{Email, PersonName, Role};
use crate::error::AppError;
use crate::orgs::store::role_of;
use crate::policy::{authorize, Action};
use crate::state::AppState;
use rand::RngCore;

/// How long a round trip to the provider may take.
pub const LOGIN_SECS: i64 = 10 * 60;
/// How long an identity waits for its account's owner to sign in with their password.
pub const LINK_SECS: i64 = 15 * 60;
pub use crate::auth::server::password::NO_PASSWORD;
pub use crate::auth::server::LINK_COOKIE;

/// Gatehouse's callback for `org_id`'s connection, to register at its provider. One per
/// connection: a provider's answer arrives where only that connection's round trips are
/// finished, so one provider's code is never sent to another's token endpoint (the OAuth
/// mix-up attack, RFC 9207).
pub fn redirect_uri(state: &AppState, org_id: i64) -> String {
    format!(
        "{}/sso/callback/{org_id}",
        state.base_url().trim_end_matches('/')
    )
}

/// Where a page sends someone whose session did not come through `org_id`'s provider.
pub fn start_path(org_id: i64, next: Option<&str>) -> String {
    let mut path = format!("/sso/start?org={org_id}");
    if let Some(next) = next {
        path.push_str("&next=");
        path.extend(url::form_urlencoded::byte_serialize(next.as_bytes()));
    }
    path
}

fn secret_context(org_id: i64) -> String {
    format!("sso-client-secret:{org_id}")
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An organization's connection as stored, the secret decrypted.
struct Connection {
    org_id: i64,
    issuer: String,
    client_id: String,
    client_secret: String,
    default_role: Role,
    provider_mfa: bool,
}

impl Connection {
    fn registration(&self, state: &AppState) -> Registration {
        Registration {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            redirect_uri: redirect_uri(state, self.org_id),
        }
    }
}

async fn connection(state: &AppState, org_id: i64) -> Result<Option<Connection>, AppError> {
    let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT issuer, client_id, client_secret, default_role, provider_mfa
         FROM sso_connections WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((issuer, client_id, sealed, role, provider_mfa)) = row else {
        return Ok(None);
    };
    let client_secret = state
        .secret_key
        .decrypt(&sealed, &secret_context(org_id))
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            tracing::error!(
                org_id,
                "the SSO client secret does not decrypt with this data key"
            );
            AppError::Internal
        })?;
    Ok(Some(Connection {
        org_id,
        issuer,
        client_id,
        client_secret,
        default_role: role_of(&role)?,
        provider_mfa: provider_mfa == 1,
    }))
}

async fn domains_of(state: &AppState, org_id: i64) -> Result<Vec<String>, AppError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT domain FROM sso_domains WHERE org_id = $1 ORDER BY domain")
            .bind(org_id)
            .fetch_all(&state.db.pool)
            .await?;
    Ok(rows.into_iter().map(|(d,)| d).collect())
}

/// The organization whose provider speaks for this email's domain: the one that verified
/// the domain, if it also lists it among its connection's allowed domains. Listing a domain
/// alone speaks for nobody.
pub async fn org_for_email(state: &AppState, email: &Email) -> Result<Option<i64>, AppError> {
    let Some(domain) = crate::domain::DomainName::of_email(email) else {
        return Ok(None);
    };
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT s.org_id FROM sso_domains s
         JOIN org_domains d ON d.org_id = s.org_id AND d.domain = s.domain
         JOIN sso_connections c ON c.org_id = s.org_id
         WHERE s.domain = $1 AND d.verified_at IS NOT NULL",
    )
    .bind(domain.as_str())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Whether any organization here routes a verified domain to its provider (the sign-in page
/// offers single sign-on then).
pub async fn offered(state: &AppState) -> Result<bool, AppError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT s.org_id FROM sso_domains s
         JOIN org_domains d ON d.org_id = s.org_id AND d.domain = s.domain
         WHERE d.verified_at IS NOT NULL LIMIT 1",
    )
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.is_some())
}

/// Domains of the connection that no longer route or make accounts (not verified by this
/// organization, or taken over by another).
async fn unverified_of(state: &AppState, org_id: i64) -> Result<Vec<String>, AppError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT s.domain FROM sso_domains s
         LEFT JOIN org_domains d ON d.org_id = s.org_id AND d.domain = s.domain
             AND d.verified_at IS NOT NULL
         WHERE s.org_id = $1 AND d.id IS NULL ORDER BY s.domain",
    )
    .bind(org_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows.into_iter().map(|(d,)| d).collect())
}

/// The Owner's panel. `host` is where they opened the page: a Test connection started
/// elsewhere than Gatehouse's own address comes back to that address without its cookie.
pub async fn settings(
    state: &AppState,
    actor: &Actor,
    host: Option<&str>,
) -> Result<SsoSettings, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    type Row = (
        String,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT issuer, client_id, default_role, provider_mfa, required, tested_at, test_error
         FROM sso_connections WHERE org_id = $1",
    )
    .bind(actor.org_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let connection = match row {
        None => None,
        Some((issuer, client_id, role, provider_mfa, required, tested_at, test_error)) => {
            Some(SsoConnection {
                issuer,
                client_id,
                allowed_domains: domains_of(state, actor.org_id).await?,
                unverified_domains: unverified_of(state, actor.org_id).await?,
                default_role: role_of(&role)?,
                provider_mfa: provider_mfa == 1,
                required: required == 1,
                tested: tested_at.map(crate::dates::date_time),
                test_error,
            })
        }
    };
    Ok(SsoSettings {
        org_id: actor.org_id,
        redirect_uri: redirect_uri(state, actor.org_id),
        connection,
        opened_elsewhere: opened_elsewhere(state, host),
    })
}

/// The Owner's form, parsed.
pub struct ConnectionForm {
    pub issuer: reqwest::Url,
    pub client_id: String,
    /// Empty keeps the stored secret.
    pub client_secret: Option<String>,
    pub domains: EmailDomains,
    pub default_role: Role,
    pub provider_mfa: bool,
}

impl ConnectionForm {
    pub async fn parse(
        state: &AppState,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        domains: &str,
        default_role: &str,
        provider_mfa: bool,
    ) -> Result<Self, AppError> {
        let issuer_text = issuer.trim().trim_end_matches('/');
        let issuer = reqwest::Url::parse(issuer_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .filter(|u| u.query().is_none() && u.fragment().is_none())
            .ok_or_else(|| {
                AppError::invalid(
                    "issuer",
                    "Enter the provider's issuer URL, like https://login.example.com/realms/main.",
                )
            })?;
        // Discovery goes to this address: the same rule as webhooks (no internal networks
        // unless the operator allowed them).
        crate::outbound::check_field(&state.outbound.policy, &issuer, "issuer").await?;
        let client_id = client_id.trim();
        if client_id.is_empty() || client_id.len() > 255 || client_id.chars().any(char::is_control)
        {
            return Err(AppError::invalid(
                "client_id",
                "Enter the client id the provider gave Gatehouse.",
            ));
        }
        let client_secret = client_secret.trim();
        if client_secret.len() > 1024 || client_secret.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "client_secret",
                "That does not look like a client secret.",
            ));
        }
        Ok(Self {
            issuer,
            client_id: client_id.to_string(),
            client_secret: (!client_secret.is_empty()).then(|| client_secret.to_string()),
            domains: EmailDomains::parse(domains)?,
            default_role: super::model::parse_default_role(default_role)?,
            provider_mfa,
        })
    }

    fn issuer_text(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_string()
    }
}

/// Why Test connection cannot work from where the page was opened: the provider sends the
/// browser back to Gatehouse's own address, where the cookie set here is not sent.
pub fn opened_elsewhere(state: &AppState, host: Option<&str>) -> Option<String> {
    let base = state.base_url();
    let ours = reqwest::Url::parse(&base).ok()?;
    let ours_host = match ours.port() {
        Some(port) => format!("{}:{port}", ours.host_str()?),
        None => ours.host_str()?.to_string(),
    };
    let host = host?;
    (!host.eq_ignore_ascii_case(&ours_host)).then(|| {
        format!(
            "You opened Gatehouse at {host}, but the identity provider sends people back to {base}: \
             a sign-in started here comes back without this browser's cookie there and is refused. \
             Open Gatehouse at {base} to test the connection."
        )
    })
}

/// Creates or changes the connection. A different issuer or client needs a new successful
/// test before SSO can be (or stay) required.
pub async fn save(state: &AppState, actor: &Actor, form: ConnectionForm) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let now = state.now();
    let issuer = form.issuer_text();
    let mut tx = state.db.begin().await?;
    let existing: Option<(String, String, String)> = sqlx::query_as(
        "SELECT issuer, client_id, client_secret FROM sso_connections WHERE org_id = $1",
    )
    .bind(actor.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let sealed = match (&form.client_secret, &existing) {
        (Some(secret), _) => state
            .secret_key
            .encrypt(secret.as_bytes(), &secret_context(actor.org_id)),
        (None, Some((_, _, sealed))) => sealed.clone(),
        (None, None) => {
            return Err(AppError::invalid(
                "client_secret",
                "Enter the client secret the provider gave Gatehouse.",
            ))
        }
    };
    let provider_changed = form.client_secret.is_some()
        || existing
            .as_ref()
            .is_none_or(|(i, c, _)| *i != issuer || *c != form.client_id);
    // Only a domain this organization proved it controls can be one its provider speaks for.
    let verified =
        crate::domains::server::verified_among(&mut tx, actor.org_id, form.domains.as_slice())
            .await?;
    let unverified: Vec<&String> = form
        .domains
        .as_slice()
        .iter()
        .filter(|d| !verified.contains(d))
        .collect();
    if !unverified.is_empty() {
        let list = unverified
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(AppError::invalid(
            "allowed_domains",
            format!(
                "Verify {list} under Verified domains first: only domains this organization has proved it controls can sign people in."
            ),
        ));
    }
    // A new provider or client needs a new successful test, and is not required until then.
    sqlx::query(
        "INSERT INTO sso_connections (org_id, issuer, client_id, client_secret, default_role,
                                      provider_mfa, required, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7)
         ON CONFLICT (org_id) DO UPDATE SET issuer = excluded.issuer,
             client_id = excluded.client_id, client_secret = excluded.client_secret,
             default_role = excluded.default_role, provider_mfa = excluded.provider_mfa,
             updated_at = excluded.updated_at,
             tested_at = CASE WHEN $8 = 1 THEN NULL ELSE sso_connections.tested_at END,
             test_error = CASE WHEN $8 = 1 THEN NULL ELSE sso_connections.test_error END,
             required = CASE WHEN $8 = 1 THEN 0 ELSE sso_connections.required END",
    )
    .bind(actor.org_id)
    .bind(&issuer)
    .bind(&form.client_id)
    .bind(&sealed)
    .bind(form.default_role.as_str())
    .bind(i64::from(form.provider_mfa))
    .bind(now)
    .bind(i64::from(provider_changed))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sso_domains WHERE org_id = $1")
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    for domain in form.domains.as_slice() {
        sqlx::query("INSERT INTO sso_domains (domain, org_id) VALUES ($1, $2)")
            .bind(domain)
            .bind(actor.org_id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut tx,
        state,
        actor
            .event("org.sso_updated", format!("org:{}", actor.org_id))
            .details(serde_json::json!({
                "issuer": issuer,
                "client_id": form.client_id,
                "client_secret_changed": form.client_secret.is_some(),
                "allowed_domains": form.domains.as_slice(),
                "default_role": form.default_role.as_str(),
                "provider_mfa": form.provider_mfa,
                "needs_new_test": provider_changed,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the connection, its domains and the identities linked through it.
pub async fn remove(state: &AppState, actor: &Actor) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let mut tx = state.db.begin().await?;
    for table in [
        "sso_domains",
        "sso_identities",
        "sso_logins",
        "sso_pending_links",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE org_id = $1"))
            .bind(actor.org_id)
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query("DELETE FROM sso_connections WHERE org_id = $1")
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        state,
        actor.event("org.sso_removed", format!("org:{}", actor.org_id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Require single sign-on (or stop requiring it). Requiring needs a successful test of the
/// connection as it is now.
pub async fn set_required(state: &AppState, actor: &Actor, required: bool) -> Result<(), AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let mut tx = state.db.begin().await?;
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT tested_at FROM sso_connections WHERE org_id = $1")
            .bind(actor.org_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((tested_at,)) = row else {
        return Err(AppError::conflict(
            "required",
            "Connect an identity provider first.",
        ));
    };
    if required && tested_at.is_none() {
        return Err(AppError::conflict(
            "required",
            "Run Test connection and sign in once successfully before requiring single sign-on.",
        ));
    }
    sqlx::query("UPDATE sso_connections SET required = $1 WHERE org_id = $2")
        .bind(i64::from(required))
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    if required {
        // Enforcing ends a report-only trial of it.
        let now = state.now();
        sqlx::query(
            "UPDATE organizations SET sso_trial_until = $1 WHERE id = $2 AND sso_trial_until > $1",
        )
        .bind(now)
        .bind(actor.org_id)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        state,
        actor
            .event("org.sso_required_set", format!("org:{}", actor.org_id))
            .details(serde_json::json!({ "required": required })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Where a round trip would go, for the page that names it and asks to continue.
pub struct Target {
    pub org_id: i64,
    pub org_name: String,
    pub issuer: String,
}

async fn target(state: &AppState, org_id: i64) -> Result<Option<Target>, AppError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT o.name, c.issuer FROM sso_connections c JOIN organizations o ON o.id = c.org_id
         WHERE c.org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.map(|(org_name, issuer)| Target {
        org_id,
        org_name,
        issuer,
    }))
}

/// The provider for a work email: only through a domain its organization verified.
pub async fn target_for_email(state: &AppState, email: &Email) -> Result<Option<Target>, AppError> {
    match org_for_email(state, email).await? {
        Some(org_id) => target(state, org_id).await,
        None => Ok(None),
    }
}

/// The provider of an organization the signed-in person belongs to (its pages send them
/// there when it requires single sign-on). Anyone else learns nothing: an organization that
/// does not exist, does not use single sign-on, or is not theirs answers alike.
pub async fn target_for_member(
    state: &AppState,
    meta: &RequestMeta,
    org_id: i64,
) -> Result<Option<Target>, AppError> {
    let Some(session) = auth::authenticate(state, meta).await? else {
        return Ok(None);
    };
    if crate::orgs::store::membership(&state.db.pool, org_id, session.user_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    target(state, org_id).await
}

/// Why a round trip could not start or finish, and where the browser goes then.
#[derive(Debug)]
pub enum Refused {
    /// Back to the sign-in page with this `sso_error` code.
    SignIn(&'static str),
    /// A test: the result is on the Single sign-on panel.
    Test,
    Error(AppError),
}

impl From<sqlx::Error> for Refused {
    fn from(err: sqlx::Error) -> Self {
        Self::Error(err.into())
    }
}

impl From<AppError> for Refused {
    fn from(err: AppError) -> Self {
        Self::Error(err)
    }
}

/// The key a round trip is stored under: the state the provider echoes together with the
/// browser's binding cookie (both must come back).
pub fn bound_state(state: &str, browser: &str) -> String {
    format!("{state}.{browser}")
}

/// Starts a round trip for `org_id`: a sign-in, or (`tester`) the Owner's Test connection,
/// bound to the browser holding `browser`. Answers the provider's authorization URL.
pub async fn begin(
    state: &AppState,
    org_id: i64,
    tester: Option<i64>,
    next: Option<&str>,
    browser: &str,
) -> Result<String, Refused> {
    let conn = connection(state, org_id)
        .await?
        .ok_or(Refused::SignIn("no_provider"))?;
    let started = match oidc::start(&state.outbound, &conn.registration(state)).await {
        Ok(started) => started,
        Err(failure) => {
            tracing::warn!(org_id, error = %failure, "single sign-on could not start");
            return Err(match tester {
                Some(user_id) => {
                    record_test(state, org_id, user_id, Err(&failure)).await?;
                    Refused::Test
                }
                None => Refused::SignIn("failed"),
            });
        }
    };
    let now = state.now();
    sqlx::query("DELETE FROM sso_logins WHERE expires_at <= $1")
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO sso_logins (state_hash, org_id, purpose, user_id, nonce, pkce_verifier,
                                 next_path, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(auth::token_hash(&bound_state(&started.state, browser)))
    .bind(org_id)
    .bind(if tester.is_some() { "test" } else { "sign_in" })
    .bind(tester)
    .bind(&started.nonce)
    .bind(&started.pkce_verifier)
    .bind(next.and_then(auth::local_redirect))
    .bind(now + LOGIN_SECS)
    .execute(&state.db.pool)
    .await?;
    Ok(started.authorize_url)
}

async fn record_test(
    state: &AppState,
    org_id: i64,
    user_id: i64,
    result: Result<&Identity, &Failure>,
) -> Result<(), AppError> {
    let now = state.now();
    let (tested_at, error, details) = match result {
        Ok(identity) => (
            Some(now),
            None,
            serde_json::json!({"ok": true, "email": identity.email, "amr": identity.amr}),
        ),
        Err(failure) => (
            None,
            Some(failure.to_string()),
            serde_json::json!({"ok": false, "step": failure.step(), "error": failure.to_string()}),
        ),
    };
    sqlx::query("UPDATE sso_connections SET tested_at = $1, test_error = $2 WHERE org_id = $3")
        .bind(tested_at)
        .bind(error)
        .bind(org_id)
        .execute(&state.db.pool)
        .await?;
    audit::record_event(
        state,
        audit::Event::new("org.sso_tested", format!("org:{org_id}"))
            .org(org_id)
            .actor(user_id)
            .details(details),
    )
    .await
}

/// What the provider's redirect back to `/sso/callback` carries.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer of the answer (RFC 9207), from providers that send it.
    pub iss: Option<String>,
}

/// Where a successful callback leads.
pub enum Landing {
    /// Signed in: the new session's token, and the page to open.
    SignedIn { session_token: String, next: String },
    /// Gatehouse's own second step comes first (the challenge token).
    SecondStep { challenge_token: String },
    /// An account with this email exists: its owner signs in with their password to link.
    LinkWithPassword { link_token: String },
    /// A test finished (its result is on the panel).
    Tested,
}

struct Login {
    org_id: i64,
    purpose: String,
    user_id: Option<i64>,
    nonce: String,
    pkce_verifier: String,
    next_path: Option<String>,
}

/// Takes the round trip out (a state is good once) if it has not expired.
async fn take_login(state: &AppState, raw_state: &str) -> Result<Option<Login>, AppError> {
    type Row = (
        i64,
        String,
        Option<i64>,
        String,
        String,
        Option<String>,
        i64,
    );
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM sso_logins WHERE state_hash = $1
         RETURNING org_id, purpose, user_id, nonce, pkce_verifier, next_path, expires_at",
    )
    .bind(auth::token_hash(raw_state))
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.filter(|r| r.6 > state.now()).map(
        |(org_id, purpose, user_id, nonce, pkce_verifier, next_path, _)| Login {
            org_id,
            purpose,
            user_id,
            nonce,
            pkce_verifier,
            next_path,
        },
    ))
}

/// Finishes a round trip that came back to `callback_org`'s callback (`None`: the shared
/// callback of earlier versions): checks everything the provider sent, then signs in (making
/// the account just in time), asks for Gatehouse's second step, or asks for the password to
/// link.
pub async fn finish(
    state: &AppState,
    meta: &RequestMeta,
    callback: &Callback,
    callback_org: Option<i64>,
) -> Result<Landing, Refused> {
    let raw_state = callback
        .state
        .as_deref()
        .ok_or(Refused::SignIn("expired"))?;
    let login = take_login(state, raw_state)
        .await?
        .ok_or(Refused::SignIn("expired"))?;
    let tester = (login.purpose == "test").then_some(login.user_id).flatten();
    let conn = connection(state, login.org_id)
        .await?
        .ok_or(Refused::SignIn("no_provider"))?;
    // Mix-up (RFC 9207): the answer must come from the provider this round trip went to. Its
    // own callback says so; the shared callback of earlier versions only with the `iss` the
    // provider sent.
    let issuer_matches = |iss: &str| iss.trim_end_matches('/') == conn.issuer.trim_end_matches('/');
    let mixed_up = match (callback_org, callback.iss.as_deref()) {
        (Some(org), iss) => org != login.org_id || iss.is_some_and(|i| !issuer_matches(i)),
        (None, Some(iss)) => !issuer_matches(iss),
        (None, None) => true,
    };
    if mixed_up {
        tracing::warn!(
            org_id = login.org_id,
            ?callback_org,
            iss = ?callback.iss,
            "a provider's answer arrived for another connection's round trip"
        );
        audit_failure(
            state,
            meta,
            login.org_id,
            serde_json::json!({
                "step": "issuer",
                "error": "the answer did not come from this organization's provider \
                          (or came to another connection's redirect URI)",
            }),
        )
        .await?;
        return Err(if tester.is_some() {
            Refused::Test
        } else {
            Refused::SignIn("mixed_up")
        });
    }
    let result = match (&callback.error, &callback.code) {
        (Some(error), _) => Err(Failure::Token(format!(
            "the provider answered {error}{}",
            callback
                .error_description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ))),
        (None, Some(code)) => {
            oidc::finish(
                &state.outbound,
                &conn.registration(state),
                code,
                &login.nonce,
                &login.pkce_verifier,
            )
            .await
        }
        (None, None) => Err(Failure::Token("the provider sent no code".into())),
    };
    let identity = match result {
        Ok(identity) => identity,
        Err(failure) => {
            tracing::warn!(org_id = login.org_id, error = %failure, "single sign-on refused");
            if let Some(user_id) = tester {
                record_test(state, login.org_id, user_id, Err(&failure)).await?;
                return Err(Refused::Test);
            }
            audit_failure(
                state,
                meta,
                login.org_id,
                serde_json::json!({"step": failure.step(), "error": failure.to_string()}),
            )
            .await?;
            return Err(Refused::SignIn(if callback.error.is_some() {
                "provider"
            } else {
                "failed"
            }));
        }
    };
    let email = Email::parse(&identity.email).map_err(|_| Refused::SignIn("failed"))?;
    if org_for_email(state, &email).await? != Some(login.org_id) {
        let failure = Failure::EmailClaim(format!(
            "{} is not in one of this organization's verified allowed domains",
            identity.email
        ));
        if let Some(user_id) = tester {
            record_test(state, login.org_id, user_id, Err(&failure)).await?;
            return Err(Refused::Test);
        }
        audit_failure(
            state,
            meta,
            login.org_id,
            serde_json::json!({
                "step": failure.step(),
                "error": failure.to_string(),
                "email": identity.email,
            }),
        )
        .await?;
        return Err(Refused::SignIn("domain"));
    }
    if let Some(user_id) = tester {
        record_test(state, login.org_id, user_id, Ok(&identity)).await?;
        return Ok(Landing::Tested);
    }
    sign_in(state, meta, &conn, &identity, &email, login.next_path).await
}

/// A sign-in through `org_id`'s provider that was refused, in that organization's audit log.
async fn audit_failure(
    state: &AppState,
    meta: &RequestMeta,
    org_id: i64,
    details: serde_json::Value,
) -> Result<(), AppError> {
    audit::record_event(
        state,
        audit::Event::new("user.sso_sign_in_failed", format!("org:{org_id}"))
            .org(org_id)
            .ip(meta.ip.clone())
            .details(details),
    )
    .await
}

async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    conn: &Connection,
    identity: &Identity,
    email: &Email,
    next: Option<String>,
) -> Result<Landing, Refused> {
    let now = state.now();
    let org_id = conn.org_id;
    let linked: Option<(i64,)> =
        sqlx::query_as("SELECT user_id FROM sso_identities WHERE issuer = $1 AND subject = $2")
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(&state.db.pool)
            .await?;
    let user_id = match linked {
        Some((user_id,)) => {
            sqlx::query(
                "UPDATE sso_identities SET last_used_at = $1 WHERE issuer = $2 AND subject = $3",
            )
            .bind(now)
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .execute(&state.db.pool)
            .await?;
            // Removing someone from the organization is not undone by their provider.
            if crate::orgs::store::membership(&state.db.pool, org_id, user_id)
                .await?
                .is_none()
            {
                return Err(Refused::SignIn("not_member"));
            }
            user_id
        }
        None => match auth::store::find_user_by_email(state, email).await? {
            // An account this organization's provisioning made, that has never signed in:
            // the organization made it for its provider, which now signs its person in.
            Some(existing) if provisioned_here(state, org_id, existing.user_id).await? => {
                sqlx::query(
                    "INSERT INTO sso_identities (org_id, issuer, subject, user_id, created_at, last_used_at)
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(org_id)
                .bind(&identity.issuer)
                .bind(&identity.subject)
                .bind(existing.user_id)
                .bind(now)
                .execute(&state.db.pool)
                .await?;
                existing.user_id
            }
            // Never linked on the email alone: its owner proves the account with its password.
            Some(existing) => {
                let token = new_token();
                sqlx::query(
                    "INSERT INTO sso_pending_links (token_hash, org_id, issuer, subject, user_id,
                                                    expires_at, email)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(auth::token_hash(&token))
                .bind(org_id)
                .bind(&identity.issuer)
                .bind(&identity.subject)
                .bind(existing.user_id)
                .bind(now + LINK_SECS)
                .bind(email.as_str())
                .execute(&state.db.pool)
                .await?;
                return Ok(Landing::LinkWithPassword { link_token: token });
            }
            None => create_account(state, meta, conn, identity, email).await?,
        },
    };
    let disabled: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT disabled_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&state.db.pool)
            .await?;
    if !matches!(disabled, Some((None,))) {
        return Err(Refused::SignIn("disabled"));
    }
    let provider_mfa = conn.provider_mfa && oidc::provider_checked_mfa(identity);
    audit::record_event(
        state,
        audit::Event::new("user.sso_sign_in", format!("user:{user_id}"))
            .org(org_id)
            .actor(user_id)
            .ip(meta.ip.clone())
            .details(serde_json::json!({
                "issuer": identity.issuer,
                "amr": identity.amr,
                "acr": identity.acr,
                "provider_mfa_counted": provider_mfa,
            })),
    )
    .await?;
    if !provider_mfa && crate::two_factor::server::is_enabled(state, user_id).await? {
        let token =
            crate::two_factor::server::start_challenge(state, user_id, next.as_deref()).await?;
        sqlx::query("UPDATE sign_in_challenges SET sso_org_id = $1 WHERE id_hash = $2")
            .bind(org_id)
            .bind(auth::token_hash(&token))
            .execute(&state.db.pool)
            .await?;
        return Ok(Landing::SecondStep {
            challenge_token: token,
        });
    }
    let mut proof = auth::proof::Proof::new(&[auth::proof::Method::Sso], Some(org_id));
    if provider_mfa {
        proof = proof.with(auth::proof::Method::SsoMfa);
    }
    let session_token = auth::open_session(state, meta, user_id, Some(org_id), &proof).await?;
    Ok(Landing::SignedIn {
        session_token,
        next: next
            .as_deref()
            .and_then(auth::local_redirect)
            .unwrap_or_else(|| "/".into()),
    })
}

/// Whether provisioning of `org_id` made the account and nothing else has signed it in yet:
/// no password, no identity at any provider, and a member (not suspended).
async fn provisioned_here(state: &AppState, org_id: i64, user_id: i64) -> Result<bool, AppError> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT s.user_id FROM scim_users s JOIN users u ON u.id = s.user_id
         WHERE s.org_id = $1 AND s.user_id = $2 AND s.created_account = 1
           AND u.password_hash = $3
           AND NOT EXISTS (SELECT 1 FROM sso_identities i WHERE i.user_id = s.user_id)
           AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = s.org_id AND m.user_id = s.user_id)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(NO_PASSWORD)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.is_some())
}

/// Just in time: the account (no password), the membership with the connection's role (a
/// seat counted under the organization's lock), and the identity, in one transaction.
async fn create_account(
    state: &AppState,
    meta: &RequestMeta,
    conn: &Connection,
    identity: &Identity,
    email: &Email,
) -> Result<i64, Refused> {
    let now = state.now();
    let local = email.as_str().split('@').next().unwrap_or("member");
    let name = identity
        .name
        .as_deref()
        .and_then(|n| PersonName::parse(n).ok())
        .or_else(|| PersonName::parse(local).ok())
        .ok_or(Refused::SignIn("failed"))?;
    let mut tx = state.db.begin().await?;
    crate::orgs::store::lock_org(&mut tx, conn.org_id).await?;
    if crate::invitations::server::check_seat_free(&mut tx, conn.org_id, now, "email")
        .await
        .is_err()
    {
        return Err(Refused::SignIn("seats"));
    }
    let user_id = auth::store::insert_user(
        &mut tx,
        &name,
        email,
        NO_PASSWORD,
        now,
        "An account with this email exists.",
    )
    .await?;
    crate::invitations::server::add_member(&mut tx, conn.org_id, user_id, conn.default_role, now)
        .await?;
    sqlx::query(
        "INSERT INTO sso_identities (org_id, issuer, subject, user_id, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(conn.org_id)
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        state,
        audit::Event::new("member.sso_joined", format!("user:{user_id}"))
            .org(conn.org_id)
            .actor(user_id)
            .ip(meta.ip.clone())
            .details(serde_json::json!({
                "email": email.as_str(),
                "role": conn.default_role.as_str(),
                "issuer": identity.issuer,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}

/// After a password sign-in finished (with its second step, if any): audits an Owner's
/// break-glass sign-in, and answers `/sso/link` when an identity waits to be linked to this
/// very account. Nothing is linked here: that page names the organization and the provider
/// and asks (a link planted in this browser by someone else's sign-in is never taken
/// silently).
pub async fn after_password_sign_in(
    state: &AppState,
    meta: &RequestMeta,
    user_id: i64,
) -> Result<Option<String>, AppError> {
    audit_break_glass(state, meta, user_id).await?;
    Ok(pending_link(state, meta, user_id)
        .await?
        .map(|_| "/sso/link".to_string()))
}

/// An identity waiting in this browser to be linked to `user_id`.
pub struct PendingLink {
    pub org_name: String,
    pub issuer: String,
    pub email: String,
}

pub async fn pending_link(
    state: &AppState,
    meta: &RequestMeta,
    user_id: i64,
) -> Result<Option<PendingLink>, AppError> {
    let Some(token) = &meta.sso_link_token else {
        return Ok(None);
    };
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT o.name, l.issuer, l.email FROM sso_pending_links l
         JOIN organizations o ON o.id = l.org_id
         WHERE l.token_hash = $1 AND l.user_id = $2 AND l.expires_at > $3",
    )
    .bind(auth::token_hash(token))
    .bind(user_id)
    .bind(state.now())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.map(|(org_name, issuer, email)| PendingLink {
        org_name,
        issuer,
        email: email.unwrap_or_default(),
    }))
}

/// The person's answer on `/sso/link`: links the identity that waited for this account (if
/// the browser carries one for this very user), or drops it. Answers whether it linked.
pub async fn decide_link(
    state: &AppState,
    meta: &RequestMeta,
    user_id: i64,
    link: bool,
) -> Result<bool, AppError> {
    let Some(token) = &meta.sso_link_token else {
        return Ok(false);
    };
    let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
        "DELETE FROM sso_pending_links WHERE token_hash = $1
         RETURNING org_id, issuer, subject, user_id, expires_at",
    )
    .bind(auth::token_hash(token))
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((org_id, issuer, subject, owner, expires_at)) = row else {
        return Ok(false);
    };
    if !link || owner != user_id || expires_at <= state.now() {
        return Ok(false);
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO sso_identities (org_id, issuer, subject, user_id, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (issuer, subject) DO NOTHING",
    )
    .bind(org_id)
    .bind(&issuer)
    .bind(&subject)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let linked = inserted.rows_affected() == 1;
    if linked {
        audit::record(
            &mut tx,
            state,
            audit::Event::new("user.sso_linked", format!("user:{user_id}"))
                .org(org_id)
                .actor(user_id)
                .ip(meta.ip.clone())
                .details(serde_json::json!({ "issuer": issuer })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(linked)
}

/// A password sign-in by an Owner of organizations that require SSO: their break-glass path,
/// allowed and audited in each of those organizations.
async fn audit_break_glass(
    state: &AppState,
    meta: &RequestMeta,
    user_id: i64,
) -> Result<(), AppError> {
    let orgs: Vec<(i64,)> = sqlx::query_as(
        "SELECT c.org_id FROM sso_connections c
         JOIN memberships m ON m.org_id = c.org_id AND m.user_id = $1 AND m.role = 'owner'
         WHERE c.required = 1",
    )
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    for (org_id,) in orgs {
        audit::record_event(
            state,
            audit::Event::new("user.sso_break_glass", format!("user:{user_id}"))
                .org(org_id)
                .actor(user_id)
                .ip(meta.ip.clone()),
        )
        .await?;
    }
    Ok(())
}
