//! Server-side application state, given to server functions through context and to axum
//! handlers through `State`.

use crate::db::Db;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seconds since the Unix epoch. Injectable so tests move time instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock the tests set and advance.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: i64) -> Self {
        Self(AtomicI64::new(start))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Limits on sign-in attempts; both windows are fixed windows stored in the database so
/// every server process sees the same counts.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Failed sign-ins allowed per account per window.
    pub account_failures: i64,
    /// Sign-in attempts allowed per client IP per window.
    pub ip_attempts: i64,
    /// Sign-ups and invitation acceptances by new people allowed per client IP per window.
    pub account_creations_per_ip: i64,
    pub window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            account_failures: 10,
            ip_attempts: 100,
            account_creations_per_ip: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Set the `Secure` attribute on cookies (when served over HTTPS).
    pub secure_cookies: bool,
    /// The URL people use to reach Gatehouse, e.g. `https://gatehouse.example.com`.
    pub public_url: Option<String>,
    /// Where this server listens, as a URL (`http://localhost:3000` for a loopback or
    /// unspecified address): links point here when no public URL is set.
    pub served_url: String,
    /// Whether anyone may sign up and so create a new organization.
    pub open_signup: bool,
    /// A session ends after this long without a request...
    pub session_idle: Duration,
    /// ...and after this long in any case.
    pub session_absolute: Duration,
    pub rate_limits: RateLimits,
    /// How many reverse proxies we run in front of Gatehouse: the client IP is the entry
    /// that many from the right of `X-Forwarded-For` (0: the peer address).
    pub trust_proxy_hops: usize,
    /// REST requests allowed per API key per minute (0: no limit).
    pub api_rate_limit_per_minute: u32,
    /// A running scan whose runner has not sent a heartbeat for this long is queued again.
    pub scan_heartbeat_timeout: Duration,
    /// The longest any response may take, body included.
    pub request_deadline: Duration,
    /// Scans one group may have waiting in its queue; New scan is refused beyond it.
    pub max_queued_scans_per_group: i64,
    /// Internal networks and hosts that webhooks may still reach (none by default).
    pub outbound_allow: crate::outbound::DestinationPolicy,
    /// How many deliveries are sent at once, in all, and per organization.
    pub delivery_concurrency: usize,
    pub delivery_concurrency_per_org: usize,
    /// Finished deliveries are deleted after this long.
    pub delivery_retention: Duration,
    /// How long after proving it (password, and second factor when on) a session may take
    /// sensitive actions without proving it again (GitHub's "sudo mode").
    pub reauth_window: Duration,
    /// Whether Prometheus metrics are served (`--metrics-addr`): requests are counted then.
    pub metrics: bool,
    /// DNS servers for Verified domains' look-ups (empty: the system's resolvers).
    pub dns_servers: Vec<std::net::SocketAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            public_url: None,
            served_url: "http://localhost:3000".to_string(),
            open_signup: true,
            session_idle: Duration::from_secs(7 * 24 * 3600),
            session_absolute: Duration::from_secs(30 * 24 * 3600),
            rate_limits: RateLimits::default(),
            trust_proxy_hops: 0,
            api_rate_limit_per_minute: 600,
            scan_heartbeat_timeout: Duration::from_secs(90),
            request_deadline: Duration::from_secs(20),
            max_queued_scans_per_group: 1000,
            outbound_allow: crate::outbound::DestinationPolicy::default(),
            delivery_concurrency: 16,
            delivery_concurrency_per_org: 2,
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
            reauth_window: Duration::from_secs(10 * 60),
            metrics: false,
            dns_servers: Vec::new(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// Bounds how many argon2 hashes run at once, so a burst of sign-ins cannot take every
    /// blocking thread and memory (19 MiB each) at the same time.
    pub hashing: Arc<crate::auth::server::hashing::HashingPool>,
    /// Sends email when SMTP is configured; without it, links are shown to copy.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// Encrypts TOTP secrets and keys recovery-code hashes.
    pub secret_key: Arc<crate::crypto::SecretKey>,
    /// The REST API's per-key request budget.
    pub api_limiter: Arc<crate::api_keys::server::limiter::KeyRateLimiter>,
    /// The client for every request a user can aim (webhooks, Slack).
    pub outbound: crate::outbound::Outbound,
    /// API keys' rows on PostgreSQL, kept true by its notifications.
    pub key_cache: Arc<crate::api_keys::server::cache::KeyCache>,
    /// Trigram counts that let PostgreSQL's member search look up a term's rarest part.
    pub search_stats: Arc<crate::members::search::SearchStats>,
    /// The TXT look-ups of Verified domains.
    pub dns: crate::domains::dns::DnsChecker,
    /// Set once this process was asked to stop: `/healthz` answers 503 `draining` so that
    /// balancers stop sending, while requests are still served (`Connection: close`).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// What policies tried in report-only mode would have refused, on its way to the database.
    pub report_only: Arc<crate::report_only::pending::ReportOnly>,
}

impl AppState {
    pub fn new(
        db: Db,
        settings: Settings,
        clock: Arc<dyn Clock>,
        secret_key: crate::crypto::SecretKey,
    ) -> Self {
        let permits = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let api_limiter = crate::api_keys::server::limiter::KeyRateLimiter::new(
            settings.api_rate_limit_per_minute,
        );
        let outbound = crate::outbound::Outbound::new(
            settings.outbound_allow.clone(),
            crate::outbound::REQUEST_TIMEOUT,
        );
        let key_cache = Arc::new(crate::api_keys::server::cache::KeyCache::new(db.backend));
        let dns = crate::domains::dns::DnsChecker::new(&settings.dns_servers);
        Self {
            dns,
            draining: Arc::default(),
            report_only: Arc::default(),
            db,
            key_cache,
            search_stats: Arc::default(),
            outbound,
            api_limiter: Arc::new(api_limiter),
            settings: Arc::new(settings),
            clock,
            hashing: Arc::new(crate::auth::server::hashing::HashingPool::new(permits)),
            mailer: None,
            secret_key: Arc::new(secret_key),
        }
    }

    pub fn with_mailer(mut self, mailer: Option<crate::mail::Mailer>) -> Self {
        self.mailer = mailer.map(Arc::new);
        self
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// The address people use to reach Gatehouse, for links in emails and on screen: the
    /// configured public URL, else the address this server listens on. Never a request's
    /// `Host` header: anyone can send any Host, and a link built from it would send an
    /// invitee's token to the sender's server.
    pub fn base_url(&self) -> String {
        self.settings
            .public_url
            .clone()
            .unwrap_or_else(|| self.settings.served_url.clone())
    }
}

/// The state a server function runs with (provided by the server for every request).
pub fn from_context() -> Result<AppState, crate::error::AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        crate::error::AppError::Internal
    })
}
