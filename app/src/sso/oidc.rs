//! The OpenID Connect protocol, all of it the `openidconnect` crate's: discovery, the key set,
//! PKCE, state and nonce, and id-token validation (issuer, audience, expiry, signature). Every
//! request goes through [`Outbound`], the client that refuses internal destinations.

use crate::outbound::Outbound;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdToken, CoreIdTokenVerifier,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a provider's discovery document and key set are reused. A key the cached set
/// lacks (the provider rotated its keys) fetches them again at once.
const METADATA_TTL: Duration = Duration::from_secs(10 * 60);

/// Which step of a sign-in round trip failed, with the provider's or the library's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("Discovery failed: {0}")]
    Discovery(String),
    #[error("The provider refused the client id or secret: {0}")]
    ClientAuthentication(String),
    #[error("The token request failed: {0}")]
    Token(String),
    #[error("The id token was refused: {0}")]
    IdToken(String),
    #[error("The email claim was refused: {0}")]
    EmailClaim(String),
}

impl Failure {
    /// A stable name for the failed step (audit details, redirects).
    pub fn step(&self) -> &'static str {
        match self {
            Self::Discovery(_) => "discovery",
            Self::ClientAuthentication(_) => "client_authentication",
            Self::Token(_) => "token",
            Self::IdToken(_) => "id_token",
            Self::EmailClaim(_) => "email",
        }
    }
}

/// An organization's registration at its provider.
pub struct Registration {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Gatehouse's callback, as registered at the provider.
    pub redirect_uri: String,
}

/// A round trip just started: where to send the browser, and what the callback needs.
pub struct Started {
    pub authorize_url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider says signed in, after every check passed.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// Verified by the provider (`email_verified: true`).
    pub email: String,
    pub name: Option<String>,
    /// The `amr` claim: how the person authenticated at the provider.
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

fn cache() -> &'static Mutex<HashMap<String, (CoreProviderMetadata, Instant)>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, (CoreProviderMetadata, Instant)>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The provider's metadata and key set, from the cache unless stale or `fresh` is asked for.
async fn metadata(
    outbound: &Outbound,
    issuer: &str,
    fresh: bool,
) -> Result<CoreProviderMetadata, Failure> {
    if !fresh {
        if let Ok(cached) = cache().lock() {
            if let Some((meta, at)) = cached.get(issuer) {
                if at.elapsed() < METADATA_TTL {
                    return Ok(meta.clone());
                }
            }
        }
    }
    let issuer_url =
        IssuerUrl::new(issuer.to_string()).map_err(|e| Failure::Discovery(e.to_string()))?;
    let client = http_client(outbound);
    let meta = CoreProviderMetadata::discover_async(issuer_url, &client)
        .await
        .map_err(|e| Failure::Discovery(describe(&e)))?;
    if let Ok(mut cached) = cache().lock() {
        cached.insert(issuer.to_string(), (meta.clone(), Instant::now()));
    }
    Ok(meta)
}

/// The error and its causes in one line (the library's top-level messages are terse).
fn describe(err: &dyn std::error::Error) -> String {
    let mut words = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    words
}

fn http_client(
    outbound: &Outbound,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<openidconnect::HttpResponse, crate::outbound::SendError>,
            > + Send,
    >,
> {
    let outbound = outbound.clone();
    move |request| {
        let outbound = outbound.clone();
        Box::pin(async move { outbound.execute(request).await })
    }
}

/// The library's client for this registration, from the provider's metadata.
fn client_for(
    meta: CoreProviderMetadata,
    registration: &Registration,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    Failure,
> {
    let redirect = RedirectUrl::new(registration.redirect_uri.clone())
        .map_err(|e| Failure::Discovery(format!("the redirect URI does not parse: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(registration.client_id.clone()),
        Some(ClientSecret::new(registration.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// Runs discovery and builds the authorization request (code flow, PKCE S256, fresh state
/// and nonce, scopes `openid email profile`).
pub async fn start(outbound: &Outbound, registration: &Registration) -> Result<Started, Failure> {
    let meta = metadata(outbound, &registration.issuer, false).await?;
    let client = client_for(meta, registration)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_string()))
        .add_scope(Scope::new("profile".to_string()))
        .set_pkce_challenge(challenge)
        .url();
    // The browser is sent there: only a web address, never `javascript:` or `data:` from a
    // provider's discovery document.
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Failure::Discovery(format!(
            "the authorization endpoint is not an http(s) URL ({})",
            url.scheme()
        )));
    }
    Ok(Started {
        authorize_url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// Exchanges the code (with the PKCE verifier) and validates the id token against `nonce`.
pub async fn finish(
    outbound: &Outbound,
    registration: &Registration,
    code: &str,
    nonce: &str,
    pkce_verifier: &str,
) -> Result<Identity, Failure> {
    let meta = metadata(outbound, &registration.issuer, false).await?;
    let client = client_for(meta, registration)?;
    let http = http_client(outbound);
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| Failure::Discovery(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
        .request_async(&http)
        .await
        .map_err(|err| match &err {
            RequestTokenError::ServerResponse(response)
                if matches!(
                    response.error(),
                    CoreErrorResponseType::InvalidClient
                        | CoreErrorResponseType::UnauthorizedClient
                ) =>
            {
                Failure::ClientAuthentication(response.to_string())
            }
            RequestTokenError::ServerResponse(response) => Failure::Token(response.to_string()),
            other => Failure::Token(describe(other)),
        })?;
    let id_token = token
        .id_token()
        .ok_or_else(|| Failure::IdToken("the token response has no id token".into()))?;
    let nonce = Nonce::new(nonce.to_string());
    let access_token = token.access_token();
    let first = check(id_token, &client.id_token_verifier(), &nonce, access_token);
    match first {
        // Signed with a key the cached set does not have: the provider rotated its keys.
        Err(Failure::IdToken(words)) if words.contains("No matching key") => {
            let meta = metadata(outbound, &registration.issuer, true).await?;
            let client = client_for(meta, registration)?;
            let second = check(id_token, &client.id_token_verifier(), &nonce, access_token);
            second
        }
        other => other,
    }
}

/// Validates the id token (the library's checks), its `at_hash`, and the email claim.
fn check(
    id_token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &Nonce,
    access_token: &AccessToken,
) -> Result<Identity, Failure> {
    let claims = id_token
        .claims(verifier, nonce)
        .map_err(|e| Failure::IdToken(describe(&e)))?;
    // The access token must be the one the id token was issued with.
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| Failure::IdToken(e.to_string()))?;
        let key = id_token
            .signing_key(verifier)
            .map_err(|e| Failure::IdToken(e.to_string()))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| Failure::IdToken(e.to_string()))?;
        if actual != *expected {
            return Err(Failure::IdToken(
                "the access token does not match the id token's at_hash".into(),
            ));
        }
    }
    let email = claims
        .email()
        .map(|e| e.as_str().to_string())
        .ok_or_else(|| {
            Failure::EmailClaim(
                "the id token has no email claim (grant the email scope to Gatehouse)".into(),
            )
        })?;
    if claims.email_verified() != Some(true) {
        return Err(Failure::EmailClaim(format!(
            "the provider has not verified {email} (email_verified is not true)"
        )));
    }
    Ok(Identity {
        issuer: claims.issuer().as_str().to_string(),
        subject: claims.subject().as_str().to_string(),
        email,
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        amr: claims
            .auth_method_refs()
            .map(|refs| refs.iter().map(|r| r.as_str().to_string()).collect())
            .unwrap_or_default(),
        acr: claims.auth_context_ref().map(|a| a.as_str().to_string()),
    })
}

/// Values of the `amr` claim (RFC 8176) that mean the provider asked for more than a
/// password: multi-factor, one-time codes, hardware or software keys, biometrics, smart cards.
pub const MFA_AMR: &[&str] = &[
    "mfa", "otp", "hwk", "swk", "fpt", "face", "iris", "sc", "pop",
];

/// Whether the provider says it checked a second factor.
pub fn provider_checked_mfa(identity: &Identity) -> bool {
    identity.amr.iter().any(|m| MFA_AMR.contains(&m.as_str()))
}
