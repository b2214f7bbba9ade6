//! What the Verified domains panel shows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainsView {
    pub org_id: i64,
    pub domains: Vec<DomainEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEntry {
    pub id: i64,
    pub domain: String,
    /// Publish a TXT record at this name...
    pub record_name: String,
    /// ...with this value.
    pub record_value: String,
    pub status: DomainStatus,
    /// When the last Verify ran (words), and why it failed.
    pub checked: Option<String>,
    pub check_error: Option<String>,
    /// One of the Single sign-on connection's allowed domains.
    pub sso_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DomainStatus {
    /// Added, waiting for its record to be published and verified.
    Pending,
    Verified {
        since: String,
    },
    /// Another organization proved control of it and took it over.
    TakenOver {
        at: String,
    },
}

/// The name of the TXT record that proves control of `domain` for `org_id` (as GitHub's
/// `_github-challenge-ORG.example.com`): per organization, so that two organizations'
/// records never collide and an old record proves nothing for another organization.
pub fn record_name(org_id: i64, domain: &str) -> String {
    format!("_gatehouse-challenge-{org_id}.{domain}")
}

/// The value of that record.
pub fn record_value(token: &str) -> String {
    format!("gatehouse-domain-verification={token}")
}
