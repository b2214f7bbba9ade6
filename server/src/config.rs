//! The server's settings: every flag and its environment variable, and what they make of
//! `app::state::Settings`. The command line around them is `cli`.

use app::state::{RateLimits, Settings};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "GATEHOUSE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,
    /// sqlite://path or postgres://user@host/db. Default: a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where Gatehouse keeps its files (the SQLite database, generated keys).
    #[arg(
        long,
        env = "GATEHOUSE_DATA_DIR",
        default_value = "data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Mark cookies Secure (serve over HTTPS, directly or behind a proxy).
    #[arg(long, env = "GATEHOUSE_SECURE_COOKIES", global = true)]
    pub secure_cookies: bool,
    /// The URL people use to reach Gatehouse (used for links and the cross-site check).
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Refuse Sign up: new people join only through invitations.
    #[arg(long, env = "GATEHOUSE_DISABLE_SIGNUP", global = true)]
    pub disable_signup: bool,
    /// Gatehouse is behind one reverse proxy you run: take the client IP from the entry it
    /// appends to X-Forwarded-For (the rightmost). Same as --trust-proxy-hops 1.
    #[arg(long, env = "GATEHOUSE_TRUST_PROXY", global = true)]
    pub trust_proxy: bool,
    /// Gatehouse is behind this many reverse proxies you run (a CDN and a load balancer: 2);
    /// the client IP is the entry this many from the right of X-Forwarded-For.
    #[arg(long, env = "GATEHOUSE_TRUST_PROXY_HOPS", global = true)]
    pub trust_proxy_hops: Option<usize>,
    /// Send email through this SMTP server: smtp://host:port (plain, local relay),
    /// smtp://user:pass@host:587?tls=required (STARTTLS), smtps://user:pass@host (TLS).
    /// Without it, invitation links are shown to the inviter to copy.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// The From address of Gatehouse's email.
    #[arg(
        long,
        env = "GATEHOUSE_SMTP_FROM",
        default_value = "Gatehouse <gatehouse@localhost>",
        global = true
    )]
    pub smtp_from: String,
    /// The server key (64 hex digits) that encrypts TOTP secrets. Default: generated once into
    /// `<data dir>/secret.key`. Replicas sharing a database must all be given the same key.
    #[arg(
        long,
        env = "GATEHOUSE_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// How often the delivery worker looks for due webhook, Slack and email deliveries (ms).
    #[arg(
        long,
        env = "GATEHOUSE_DELIVERY_POLL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub delivery_poll_ms: u64,
    /// How often the background worker looks for API keys about to expire (seconds); their
    /// owners are warned 7 days and 1 day before.
    #[arg(
        long,
        env = "GATEHOUSE_KEY_EXPIRY_CHECK_SECS",
        default_value_t = 300,
        global = true
    )]
    pub key_expiry_check_secs: u64,
    /// Failed sign-ins allowed per account per 15 minutes.
    #[arg(
        long,
        env = "GATEHOUSE_SIGNIN_ACCOUNT_LIMIT",
        default_value_t = 10,
        global = true
    )]
    pub signin_account_limit: i64,
    /// Sign-in attempts allowed per client IP per 15 minutes.
    #[arg(
        long,
        env = "GATEHOUSE_SIGNIN_IP_LIMIT",
        default_value_t = 100,
        global = true
    )]
    pub signin_ip_limit: i64,
    /// Sign-ups and invitation acceptances by new people allowed per client IP per 15 minutes.
    #[arg(
        long,
        env = "GATEHOUSE_SIGNUP_IP_LIMIT",
        default_value_t = 20,
        global = true
    )]
    pub signup_ip_limit: i64,
    /// REST API requests allowed per API key per minute, counted per server process
    /// (0: no limit).
    #[arg(
        long,
        env = "GATEHOUSE_API_RATE_LIMIT",
        default_value_t = 600,
        global = true
    )]
    pub api_rate_limit: u32,
    /// Seconds without a heartbeat after which a running scan goes back to the queue.
    #[arg(
        long,
        env = "GATEHOUSE_SCAN_HEARTBEAT_TIMEOUT",
        default_value_t = 90,
        global = true
    )]
    pub scan_heartbeat_timeout: u64,
    /// The longest a response may take, body included (seconds). A request still unanswered
    /// then gets 503 `deadline_exceeded`; a body still streaming is cut off. Keep it below your
    /// load balancer's timeout.
    #[arg(
        long,
        env = "GATEHOUSE_REQUEST_DEADLINE",
        default_value_t = 20,
        global = true
    )]
    pub request_deadline: u64,
    /// Scans one group may have waiting (queued); New scan is refused (409) beyond it.
    #[arg(
        long,
        env = "GATEHOUSE_MAX_QUEUED_SCANS",
        default_value_t = 1000,
        global = true
    )]
    pub max_queued_scans: i64,
    /// Internal destinations that webhooks, Slack and single sign-on issuers may reach, for
    /// intranet installs (an identity provider or a hook on your own network): networks and
    /// host names, comma-separated (e.g. `10.0.0.0/8,sso.intranet.example`). By default every
    /// loopback, private, link-local and otherwise non-public address is refused.
    #[arg(
        long,
        alias = "webhook-allow-hosts",
        env = "GATEHOUSE_OUTBOUND_ALLOW",
        default_value = "",
        global = true
    )]
    pub outbound_allow: String,
    /// Seconds a request waits for a database connection; while the database is unreachable
    /// requests are answered 503 `database_unavailable` (with Retry-After) within it.
    #[arg(long, env = "GATEHOUSE_DB_TIMEOUT", default_value_t = 3, global = true)]
    pub db_timeout: u64,
    /// Seconds to keep serving after SIGTERM while `/healthz` answers 503 `draining`, so that
    /// load balancers take this replica out before it stops accepting (longer than their
    /// fall × interval); 0 stops at once.
    #[arg(
        long,
        env = "GATEHOUSE_DRAIN_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub drain_seconds: u64,
    /// DNS servers for the TXT look-ups of Verified domains, comma-separated `IP` or
    /// `IP:PORT` (split-horizon installs). By default the system's resolvers.
    #[arg(long, env = "GATEHOUSE_DNS_SERVER", default_value = "", global = true)]
    pub dns_server: String,
    /// Deliveries (webhook, Slack, email) sent at once, in all.
    #[arg(
        long,
        env = "GATEHOUSE_DELIVERY_CONCURRENCY",
        default_value_t = 16,
        global = true
    )]
    pub delivery_concurrency: usize,
    /// Days a finished delivery stays listed before it is deleted.
    #[arg(
        long,
        env = "GATEHOUSE_DELIVERY_RETENTION_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub delivery_retention_days: u64,
    /// Seconds after signing in (or confirming access) during which sensitive actions (2FA
    /// changes, recovery codes, API keys, password, deleting an organization) do not ask for
    /// the password again.
    #[arg(
        long,
        env = "GATEHOUSE_REAUTH_WINDOW",
        default_value_t = 600,
        global = true
    )]
    pub reauth_window: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default; keep it off the
    /// public network).
    #[arg(long, env = "GATEHOUSE_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,
    /// How logs are written to stderr: `text` for people, `json` for log shippers (one object
    /// per line, with the request's method, path and request id).
    #[arg(
        long,
        env = "GATEHOUSE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
}

/// `--dns-server`: `IP` (port 53) or `IP:PORT`, comma-separated.
fn parse_dns_servers(raw: &str) -> Result<Vec<SocketAddr>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>()
                .or_else(|_| {
                    s.parse::<std::net::IpAddr>()
                        .map(|ip| SocketAddr::new(ip, 53))
                })
                .map_err(|_| format!("--dns-server: {s:?} is not an IP address or IP:PORT"))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("gatehouse.db").display()))
    }

    /// The settings the app runs with, for a server listening on `listening`. A public URL
    /// that is not an http(s) origin is refused here, at start-up, rather than producing
    /// broken links and failed sign-ins later.
    pub fn settings(&self, listening: SocketAddr) -> Result<Settings, String> {
        let public_url = self
            .public_url
            .as_deref()
            .map(parse_public_url)
            .transpose()?;
        // Security keys and passkeys are bound to this address: one the browser cannot use
        // (an IP address) is refused here, not found out at someone's sign-in.
        if let Some(url) = &public_url {
            app::two_factor::passkeys::server::relying_party(url)
                .map_err(|why| format!("--public-url: {why}"))?;
        }
        let https = public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        Ok(Settings {
            // Cookies over https are always Secure; --secure-cookies covers a TLS proxy
            // without a public URL.
            secure_cookies: self.secure_cookies || https,
            public_url,
            served_url: served_url(listening),
            open_signup: !self.disable_signup,
            trust_proxy_hops: self
                .trust_proxy_hops
                .unwrap_or(usize::from(self.trust_proxy)),
            rate_limits: RateLimits {
                account_failures: self.signin_account_limit,
                ip_attempts: self.signin_ip_limit,
                account_creations_per_ip: self.signup_ip_limit,
                window: Duration::from_secs(15 * 60),
            },
            api_rate_limit_per_minute: self.api_rate_limit,
            scan_heartbeat_timeout: Duration::from_secs(self.scan_heartbeat_timeout.max(1)),
            request_deadline: Duration::from_secs(self.request_deadline.max(1)),
            max_queued_scans_per_group: self.max_queued_scans.max(1),
            outbound_allow: app::outbound::DestinationPolicy::parse(&self.outbound_allow)
                .map_err(|e| format!("--outbound-allow: {e}"))?,
            delivery_concurrency: self.delivery_concurrency.max(1),
            delivery_retention: Duration::from_secs(
                self.delivery_retention_days.max(1) * 24 * 3600,
            ),
            reauth_window: Duration::from_secs(self.reauth_window),
            metrics: self.metrics_addr.is_some(),
            dns_servers: parse_dns_servers(&self.dns_server)?,
            ..Settings::default()
        })
    }
}

/// `--public-url`: an http(s) origin (scheme, host, optional port), without a path.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let bad = |why: &str| format!("--public-url {raw:?}: {why}");
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| {
        bad(&format!(
            "not a URL ({e}); use e.g. https://gatehouse.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use an http:// or https:// URL"));
    }
    if url.host_str().is_none() {
        return Err(bad("name the host people use"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "give the origin only (Gatehouse is served at the root of its host)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("remove the user name and password"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The URL of the address the server listens on. A loopback or unspecified address becomes
/// `localhost`: browsers give `localhost` the secure-context features (WebAuthn, clipboard)
/// that they refuse to a bare IP address.
fn served_url(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        return format!("http://localhost:{}", addr.port());
    }
    match ip {
        std::net::IpAddr::V4(v4) => format!("http://{v4}:{}", addr.port()),
        std::net::IpAddr::V6(v6) => format!("http://[{v6}]:{}", addr.port()),
    }
}

impl Default for Config {
    fn default() -> Self {
        // The same defaults as the command line, for tests and embedding.
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        <Defaults as clap::Parser>::parse_from(["gatehouse"]).config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn public_urls_are_origins() {
        assert_eq!(
            parse_public_url("https://gatehouse.example.com/").as_deref(),
            Ok("https://gatehouse.example.com")
        );
        assert_eq!(
            parse_public_url("http://localhost:3000").as_deref(),
            Ok("http://localhost:3000")
        );
        for bad in [
            "gatehouse.example.com",
            "ftp://example.com",
            "https://example.com/gatehouse",
            "https://user:pw@example.com",
            "https://",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_served_url_names_localhost_for_loopback() {
        let at = |s: &str| served_url(s.parse().expect("addr"));
        assert_eq!(at("127.0.0.1:3000"), "http://localhost:3000");
        assert_eq!(at("0.0.0.0:8080"), "http://localhost:8080");
        assert_eq!(at("192.0.2.5:3000"), "http://192.0.2.5:3000");
    }

    #[test]
    fn every_flag_reaches_the_settings() {
        let cli = Cli::parse_from([
            "gatehouse",
            "--trust-proxy-hops",
            "2",
            "--request-deadline",
            "7",
            "--max-queued-scans",
            "9",
            "--outbound-allow",
            "10.0.0.0/8",
            "--delivery-concurrency",
            "3",
            "--delivery-retention-days",
            "5",
            "--reauth-window",
            "60",
            "--signup-ip-limit",
            "4",
        ]);
        let s = cli
            .config
            .settings("127.0.0.1:3000".parse().expect("addr"))
            .expect("settings");
        assert_eq!(s.trust_proxy_hops, 2);
        assert_eq!(s.request_deadline, Duration::from_secs(7));
        assert_eq!(s.max_queued_scans_per_group, 9);
        assert!(s.outbound_allow.allows_ip("10.1.2.3".parse().expect("ip")));
        assert_eq!(s.delivery_concurrency, 3);
        assert_eq!(s.delivery_retention, Duration::from_secs(5 * 24 * 3600));
        assert_eq!(s.reauth_window, Duration::from_secs(60));
        assert_eq!(s.rate_limits.account_creations_per_ip, 4);
        let one_proxy = Cli::parse_from(["gatehouse", "--trust-proxy"]);
        let s = one_proxy
            .config
            .settings("127.0.0.1:3000".parse().expect("addr"))
            .expect("settings");
        assert_eq!(s.trust_proxy_hops, 1);
    }

    #[test]
    fn public_urls_must_be_usable_by_security_keys_and_passkeys() {
        let listening = "127.0.0.1:3000".parse().expect("address");
        let mut config = Config {
            public_url: Some("http://10.0.0.5:3000".into()),
            ..Config::default()
        };
        let err = config
            .settings(listening)
            .expect_err("an IP address is refused");
        assert!(err.contains("IP address"), "{err}");
        config.public_url = Some("https://gatehouse.example.com".into());
        assert!(config.settings(listening).is_ok());
        config.public_url = Some("http://localhost:3000".into());
        assert!(config.settings(listening).is_ok());
    }

    #[test]
    fn https_public_urls_make_cookies_secure() {
        let addr = "127.0.0.1:3000".parse().expect("addr");
        let mut config = Config::default();
        assert!(!config.settings(addr).expect("settings").secure_cookies);
        config.public_url = Some("https://gatehouse.example.com".into());
        assert!(config.settings(addr).expect("settings").secure_cookies);
    }
}
