//! The one HTTP client for requests a user can aim (webhooks, Slack, and any later
//! user-configured URL). It refuses destinations inside private or otherwise non-public
//! networks, so that nobody can use Gatehouse to reach its own host, a cloud metadata
//! service or an intranet (server-side request forgery).
//!
//! The check runs twice: when a URL is saved (a clear error next to the field) and when a
//! request is sent, on the addresses the host name resolves to at that moment. The client's
//! resolver hands the connector only addresses that passed the check, so a name that later
//! resolves inward (DNS rebinding) is refused too: resolve, check, connect to that address.
//! Redirects are not followed and proxies from the environment are not used, so the checked
//! address is the one connected to.

use crate::error::AppError;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A request of this client gives up after this long (connect and answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Networks that are not publicly routable (IANA special-purpose registries for IPv4 and
/// IPv6): loopback, private, shared (carrier-grade NAT), link-local, documentation,
/// benchmarking, multicast, reserved, and the IPv6 transition prefixes that can embed any
/// IPv4 address (NAT64, 6to4, Teredo).
const NON_PUBLIC_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.31.196.0/24",
    "192.52.193.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "192.175.48.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
];
const NON_PUBLIC_V6: &[&str] = &[
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

fn non_public_nets() -> &'static [IpNet] {
    static NETS: std::sync::OnceLock<Vec<IpNet>> = std::sync::OnceLock::new();
    NETS.get_or_init(|| {
        NON_PUBLIC_V4
            .iter()
            .chain(NON_PUBLIC_V6)
            .filter_map(|n| n.parse().ok())
            .collect()
    })
}

/// Whether `ip` is a public unicast address. IPv4-mapped and IPv4-compatible IPv6 addresses
/// are judged as the IPv4 address they carry; other IPv6 must be global unicast (2000::/3).
pub fn is_public(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                if s[..6] == [0, 0, 0, 0, 0, 0] {
                    // ::a.b.c.d (deprecated IPv4-compatible), :: and ::1.
                    return false;
                }
                if (s[0] & 0xe000) != 0x2000 {
                    return false;
                }
                IpAddr::V6(v6)
            }
        },
        v4 => v4,
    };
    !non_public_nets().iter().any(|net| net.contains(&ip))
}

/// Which internal destinations an operator allows (`--outbound-allow`): networks in CIDR
/// form and host names. Empty by default.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    nets: Vec<IpNet>,
    hosts: Vec<String>,
}

impl DestinationPolicy {
    /// Parses a comma-separated list such as `10.0.0.0/8, hooks.intranet.example, 127.0.0.1`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut policy = Self::default();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Ok(net) = item.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && item.contains(|c: char| c.is_ascii_alphabetic())
            {
                policy
                    .hosts
                    .push(item.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{item:?} is neither a network (10.0.0.0/8), an address nor a host name"
                ));
            }
        }
        Ok(policy)
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.nets.iter().any(|n| n.contains(&canonical(ip)))
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Why a destination was refused; shown to people as is (it names no internal detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Gatehouse does not send to this address: it is in a private or internal network. The operator of this Gatehouse can allow it with --outbound-allow.")]
    Internal,
    #[error("The URL must start with https:// (or http://) and name a host.")]
    NotHttp,
}

/// Checks a URL a person is saving. Addresses are judged now as well as at every send: a
/// name that resolves into an internal network is refused; a name that does not resolve yet
/// is accepted (it is checked again when something is sent to it).
pub async fn check_url(policy: &DestinationPolicy, url: &Url) -> Result<(), Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::NotHttp);
    }
    match url.host() {
        None => Err(Refusal::NotHttp),
        Some(url::Host::Ipv4(v4)) => ip_verdict(policy, IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => ip_verdict(policy, IpAddr::V6(v6)),
        Some(url::Host::Domain(name)) => {
            if policy.allows_host(name) {
                return Ok(());
            }
            if is_localhost_name(name) {
                return Err(Refusal::Internal);
            }
            let port = url.port_or_known_default().unwrap_or(443);
            let found = tokio::time::timeout(
                Duration::from_secs(3),
                tokio::net::lookup_host((name, port)),
            )
            .await;
            match found {
                Ok(Ok(addrs)) => {
                    for addr in addrs {
                        ip_verdict(policy, addr.ip())?;
                    }
                    Ok(())
                }
                // Not resolvable now: the send-time check decides.
                _ => Ok(()),
            }
        }
    }
}

/// `localhost` and its subdomains always mean this machine (RFC 6761), however a resolver
/// answers for them.
fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

fn ip_verdict(policy: &DestinationPolicy, ip: IpAddr) -> Result<(), Refusal> {
    if policy.allows_ip(ip) {
        Ok(())
    } else {
        Err(Refusal::Internal)
    }
}

/// The same check for a form field: a 422 next to `field`.
pub async fn check_field(
    policy: &DestinationPolicy,
    url: &Url,
    field: &str,
) -> Result<(), AppError> {
    check_url(policy, url)
        .await
        .map_err(|refusal| AppError::invalid(field, refusal.to_string()))
}

/// The resolver of the outbound client: system resolution, then only the addresses the
/// policy allows. A name with none left fails to resolve, with [`Refusal::Internal`].
struct CheckingResolver {
    policy: Arc<DestinationPolicy>,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await
            {
                Ok(addrs) => addrs.collect(),
                Err(_) => {
                    return Err(Box::new(UnknownHost) as Box<dyn std::error::Error + Send + Sync>)
                }
            };
            if policy.allows_host(&host) {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            if is_localhost_name(&host) {
                return Err(Box::new(Refusal::Internal) as Box<dyn std::error::Error + Send + Sync>);
            }
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| policy.allows_ip(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refusal::Internal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The resolver found no address for the name.
#[derive(Debug, thiserror::Error)]
#[error("the host name could not be resolved")]
struct UnknownHost;

/// What went wrong with a request, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    Refused(Refusal),
    Timeout(Duration),
    /// The host name did not resolve.
    UnknownHost,
    /// No connection (refused, unreachable, TLS failure).
    Connect,
    Other,
}

impl std::error::Error for SendError {}

/// The most of a response body that is read (an identity provider's discovery document or
/// key set is a few KB; nobody gets to make Gatehouse buffer more).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "{r}"),
            Self::Timeout(t) => write!(f, "No answer within {} seconds.", t.as_secs()),
            Self::UnknownHost => f.write_str("The host name could not be found."),
            Self::Connect => f.write_str(
                "Could not connect to the receiver. Check the URL and that it accepts connections.",
            ),
            Self::Other => f.write_str("The request could not be sent."),
        }
    }
}

/// `sha256=` + hex HMAC-SHA256 of `"{timestamp}.{body}"` under the signing secret, as webhook
/// deliveries and audit streams sign their bodies. Receivers recompute it and refuse old
/// timestamps, so a captured delivery cannot be replayed later.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The client every user-aimed request goes through.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    pub policy: Arc<DestinationPolicy>,
    pub timeout: Duration,
}

impl Outbound {
    pub fn new(policy: DestinationPolicy, timeout: Duration) -> Self {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckingResolver {
                policy: policy.clone(),
            }))
            .user_agent("Gatehouse-Webhook/1")
            .build()
            .unwrap_or_else(|err| {
                // Building fails only if the TLS backend cannot start; nothing can be sent then.
                tracing::error!(error = %err, "the outbound HTTP client could not be built");
                reqwest::Client::new()
            });
        Self {
            client,
            policy,
            timeout,
        }
    }

    /// POSTs `body` as JSON to `url` with `headers`, after checking an address literal in the
    /// URL (names are checked by the resolver when they are looked up).
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<reqwest::StatusCode, SendError> {
        self.post(url, "application/json", headers, body).await
    }

    /// [`post_json`](Self::post_json) with another content type (JSON Lines).
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<reqwest::StatusCode, SendError> {
        let url = Url::parse(url).map_err(|_| SendError::Refused(Refusal::NotHttp))?;
        self.check_literal(&url)?;
        let mut request = self
            .client
            .post(url)
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status()),
            Err(err) => Err(self.classify(&err)),
        }
    }

    /// Sends any request (the OpenID Connect library's discovery, key set and token calls)
    /// under the same rules, and reads at most [`MAX_RESPONSE_BYTES`] of the answer.
    pub async fn execute(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, SendError> {
        let (parts, body) = request.into_parts();
        let url =
            Url::parse(&parts.uri.to_string()).map_err(|_| SendError::Refused(Refusal::NotHttp))?;
        self.check_literal(&url)?;
        let mut response = self
            .client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|err| self.classify(&err))?;
        let mut builder = http::Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| self.classify(&err))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(SendError::Other);
            }
            bytes.extend_from_slice(&chunk);
        }
        builder.body(bytes).map_err(|_| SendError::Other)
    }

    /// Checks an address literal in the URL (names are checked by the resolver when they are
    /// looked up).
    fn check_literal(&self, url: &Url) -> Result<(), SendError> {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => ip_verdict(&self.policy, IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => ip_verdict(&self.policy, IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) if matches!(url.scheme(), "http" | "https") => Ok(()),
            _ => Err(Refusal::NotHttp),
        }
        .map_err(SendError::Refused)
    }

    fn classify(&self, err: &reqwest::Error) -> SendError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(refusal) = e.downcast_ref::<Refusal>() {
                return SendError::Refused(refusal.clone());
            }
            if e.downcast_ref::<UnknownHost>().is_some() {
                return SendError::UnknownHost;
            }
            source = e.source();
        }
        if err.is_timeout() {
            SendError::Timeout(self.timeout)
        } else if err.is_connect() {
            SendError::Connect
        } else {
            SendError::Other
        }
    }
}

/// Slack's incoming webhooks live on these hosts, under `/services/`: a Slack integration
/// accepts nothing else, so it cannot be aimed at an arbitrary receiver.
pub fn is_slack_webhook(url: &Url) -> bool {
    url.scheme() == "https"
        && matches!(
            url.host_str(),
            Some("hooks.slack.com" | "hooks.slack-gov.com")
        )
        && url.port().is_none()
        && url.path().starts_with("/services/")
        && url.username().is_empty()
        && url.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn public_addresses_pass_and_internal_ones_do_not() {
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
        for internal in [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(internal.parse().expect("ip")), "{internal}");
        }
    }

    #[tokio::test]
    async fn every_spelling_of_loopback_is_refused() {
        let policy = DestinationPolicy::default();
        for spelled in [
            "http://127.0.0.1/hook",
            "http://2130706433/hook",
            "http://0x7f000001/hook",
            "http://0177.0.0.1/hook",
            "http://127.1/hook",
            "http://0/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[::ffff:7f00:1]/hook",
            "http://localhost/hook",
            "http://localhost./hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
        ] {
            assert_eq!(
                check_url(&policy, &url(spelled)).await,
                Err(Refusal::Internal),
                "{spelled}"
            );
        }
        assert_eq!(
            check_url(&policy, &url("ftp://example.com/")).await,
            Err(Refusal::NotHttp)
        );
        assert_eq!(
            check_url(&policy, &url("https://93.184.216.34/hook")).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn an_operator_can_allow_internal_networks_and_hosts() {
        let policy = DestinationPolicy::parse("10.0.0.0/8, 127.0.0.1, localhost").expect("policy");
        assert_eq!(check_url(&policy, &url("http://10.9.8.7/")).await, Ok(()));
        assert_eq!(
            check_url(&policy, &url("http://[::ffff:127.0.0.1]/")).await,
            Ok(())
        );
        assert_eq!(check_url(&policy, &url("http://localhost/")).await, Ok(()));
        assert_eq!(
            check_url(&policy, &url("http://192.168.0.1/")).await,
            Err(Refusal::Internal)
        );
        assert!(DestinationPolicy::parse("not a host!").is_err());
        assert!(DestinationPolicy::parse("").is_ok());
    }

    #[tokio::test]
    async fn sending_connects_only_to_checked_addresses() {
        let outbound = Outbound::new(DestinationPolicy::default(), Duration::from_secs(2));
        for target in [
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://[::1]:9/hook",
            "http://2130706433:9/hook",
        ] {
            assert_eq!(
                outbound.post_json(target, &[], "{}".into()).await,
                Err(SendError::Refused(Refusal::Internal)),
                "{target}"
            );
        }
    }

    #[test]
    fn slack_integrations_take_only_slack_webhook_urls() {
        assert!(is_slack_webhook(&url(
            "https://hooks.slack.com/services/T000/B000/XXXX"
        )));
        for not_slack in [
            "http://hooks.slack.com/services/T/B/X",
            "https://hooks.slack.com.evil.example/services/T/B/X",
            "https://example.com/services/T/B/X",
            "https://hooks.slack.com/api/T",
            "https://hooks.slack.com:8443/services/T/B/X",
            "https://127.0.0.1/services/T/B/X",
        ] {
            assert!(!is_slack_webhook(&url(not_slack)), "{not_slack}");
        }
    }
}
