//! The TXT look-up behind **Verify**: hickory-resolver, through the system's resolvers or the
//! servers `--dns-server` names (split-horizon installs, and the tests' own DNS server).
//! Nothing is cached: an Owner who just published a record, or fixed a wrong one, is asked
//! about what DNS says now.

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::net::SocketAddr;
use std::time::Duration;

/// One look-up's time, each attempt.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Why the TXT records could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name does not exist, or has no TXT record.
    #[error("no TXT record")]
    NoRecord,
    /// The servers did not answer, or answered with an error.
    #[error("{0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct DnsChecker {
    resolver: Option<TokioResolver>,
    /// Why there is no resolver (the system's configuration could not be read).
    unavailable: Option<String>,
}

impl DnsChecker {
    /// The system's resolvers (`/etc/resolv.conf`), or `servers` when given (each
    /// `ip:port`, UDP with TCP for long answers).
    pub fn new(servers: &[SocketAddr]) -> Self {
        let builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| e.to_string())
        } else {
            let mut config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
            for server in servers {
                let mut ns = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut ns.connections {
                    connection.port = server.port();
                }
                config.add_name_server(ns);
            }
            Ok(TokioResolver::builder_with_config(
                config,
                TokioRuntimeProvider::default(),
            ))
        };
        let resolver = builder.and_then(|mut builder| {
            let options = builder.options_mut();
            options.timeout = TIMEOUT;
            options.attempts = 1;
            options.cache_size = 0;
            // A search list would turn `_gatehouse-challenge-1.example.com` into other names.
            options.ndots = 0;
            builder.build().map_err(|e| e.to_string())
        });
        match resolver {
            Ok(resolver) => Self {
                resolver: Some(resolver),
                unavailable: None,
            },
            Err(why) => {
                tracing::warn!(error = %why, "no DNS resolver: domains cannot be verified");
                Self {
                    resolver: None,
                    unavailable: Some(why),
                }
            }
        }
    }

    /// The TXT strings at `name` (each record's strings joined, as RFC 7208 reads them).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let Some(resolver) = &self.resolver else {
            return Err(LookupError::Failed(format!(
                "this server has no DNS resolver ({})",
                self.unavailable.as_deref().unwrap_or("no configuration")
            )));
        };
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => {
                let values: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|part| String::from_utf8_lossy(part).into_owned())
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect();
                if values.is_empty() {
                    Err(LookupError::NoRecord)
                } else {
                    Ok(values)
                }
            }
            Err(err) if err.is_no_records_found() || err.is_nx_domain() => {
                Err(LookupError::NoRecord)
            }
            Err(err) => Err(LookupError::Failed(err.to_string())),
        }
    }
}
