//! What a preview answers, shared by the panel and the REST API.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// A policy that can be previewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Proposal {
    /// Require two-factor authentication, any method.
    TwoFactor,
    /// Require two-factor authentication, security keys and passkeys only.
    SecurityKeys,
    /// Require single sign-on.
    Sso,
}

impl Proposal {
    pub const ALL: [Proposal; 3] = [Self::TwoFactor, Self::SecurityKeys, Self::Sso];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TwoFactor => "two_factor",
            Self::SecurityKeys => "security_keys",
            Self::Sso => "sso",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| {
                AppError::invalid("policy", "policy is one of two_factor, security_keys, sso.")
            })
    }

    /// Whether the policy refuses its members' API keys too (single sign-on governs how
    /// people sign in; a key is not a sign-in).
    pub fn refuses_keys(self) -> bool {
        !matches!(self, Self::Sso)
    }

    /// Whether the policy has a grace period.
    pub fn has_grace(self) -> bool {
        !matches!(self, Self::Sso)
    }

    /// The policy's name in the interface.
    pub fn title(self) -> &'static str {
        match self {
            Self::TwoFactor => "Require two-factor authentication",
            Self::SecurityKeys => "Require security keys and passkeys",
            Self::Sso => "Require single sign-on",
        }
    }
}

/// Why a member would be blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No second factor at all.
    NoSecondFactor,
    /// An authenticator app only, where security keys or passkeys are required.
    AppOnly,
    /// Has never signed in through the organization's identity provider.
    NoSsoIdentity,
}

impl Reason {
    pub fn words(self) -> &'static str {
        match self {
            Self::NoSecondFactor => "no second factor",
            Self::AppOnly => "an authenticator app only",
            Self::NoSsoIdentity => "has never signed in through the identity provider",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AffectedMember {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    #[cfg_attr(feature = "ssr", schema(example = "user"))]
    pub role: String,
    pub reason: Reason,
    /// How many of their keys for this organization would be refused.
    pub keys: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AffectedKey {
    pub key_id: i64,
    pub name: String,
    /// The start of the key, to tell it apart (`gh_live_AbCd`).
    pub prefix: String,
    pub owner_user_id: i64,
    pub owner_email: String,
    #[cfg_attr(feature = "ssr", schema(example = json!(["scans:write"])))]
    pub scopes: Vec<String>,
    /// Unix seconds; `null`: never used.
    pub last_used_at: Option<i64>,
    /// "3 hours ago".
    pub last_used_ago: Option<String>,
    /// The address of its last use.
    #[cfg_attr(feature = "ssr", schema(example = "203.0.113.7"))]
    pub last_used_ip: Option<String>,
    /// The User-Agent of its last use.
    #[cfg_attr(feature = "ssr", schema(example = "curl/8.5.0"))]
    pub last_used_agent: Option<String>,
}

/// Who and what a policy would block, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Impact {
    pub policy: Proposal,
    pub grace_days: i64,
    /// When the blocking starts (Unix seconds): now plus the grace period.
    pub blocks_at: i64,
    /// The same, shown: "2026-12-10 06:00 UTC".
    pub blocks_at_text: String,
    /// Every member it would block.
    pub members_count: i64,
    /// Every API key it would refuse (active, and not expired by then).
    pub keys_count: i64,
    /// The first members (by name), up to the limit asked for.
    pub members: Vec<AffectedMember>,
    /// The keys, most recently used first, up to the limit asked for.
    pub keys: Vec<AffectedKey>,
    /// Whether the policy refuses keys at all (single sign-on does not).
    pub refuses_keys: bool,
}

impl Impact {
    /// The confirmation's sentence: "3 members will lose access after 7 days (2026-12-10
    /// 06:00 UTC), and 2 API keys will be refused."
    pub fn summary(&self) -> String {
        use crate::words::counted;
        let when = match self.grace_days {
            0 => "at once".to_string(),
            1 => format!("after 1 day ({})", self.blocks_at_text),
            d => format!("after {d} days ({})", self.blocks_at_text),
        };
        if self.members_count == 0 {
            return "No member will lose access.".to_string();
        }
        let who = format!(
            "{} will lose access {when}",
            counted(self.members_count, "member", "members")
        );
        if !self.refuses_keys {
            format!(
                "{who} until they sign in through the identity provider; API keys keep working."
            )
        } else if self.keys_count == 0 {
            format!("{who}; no API key will be refused.")
        } else {
            format!(
                "{who}, and {} will be refused.",
                counted(self.keys_count, "API key", "API keys")
            )
        }
    }
}

/// The longest grace period of a policy, in days.
pub const MAX_GRACE_DAYS: i64 = 30;

/// How many members and keys a preview lists at most by default.
pub const SHOWN: i64 = 50;

/// The longest report-only trial, in days.
pub const MAX_TRIAL_DAYS: i64 = 30;

/// A policy tried in report-only mode, and what it would have refused so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub policy: Proposal,
    pub since_text: String,
    pub until_text: String,
    /// Still counting (the end has not come and it was not stopped).
    pub running: bool,
    /// Requests it would have refused.
    pub requests: i64,
    /// Members it would have refused (by session or key).
    pub members: i64,
    /// Who, most requests first (the first [`SHOWN`]).
    pub entries: Vec<WouldDeny>,
}

/// A member, and the key or session, a trial would have refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WouldDeny {
    pub name: String,
    pub email: String,
    /// The API key's name, or `None` for requests of a signed-in session.
    pub key_name: Option<String>,
    pub requests: i64,
    pub last_text: String,
    pub ip: Option<String>,
    pub agent: Option<String>,
}

/// The organization's trials: the two-factor one (either level) and single sign-on's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trials {
    pub two_factor: Option<Trial>,
    pub sso: Option<Trial>,
}

impl Trials {
    /// The trial that `policy` would run in (both 2FA levels share one).
    pub fn of(&self, policy: Proposal) -> Option<&Trial> {
        match policy {
            Proposal::Sso => self.sso.as_ref(),
            _ => self.two_factor.as_ref(),
        }
    }
}
