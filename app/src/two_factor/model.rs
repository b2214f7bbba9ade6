use serde::{Deserialize, Serialize};

/// The profile panel's view of the user's 2FA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorStatus {
    /// Any second factor: an authenticator app, a security key or a passkey.
    pub enabled: bool,
    /// An authenticator app is set up.
    pub app: bool,
    pub passkeys: Vec<crate::two_factor::passkeys::model::PasskeyEntry>,
    /// Why this page cannot add or use security keys and passkeys, when it cannot.
    pub passkeys_unavailable: Option<String>,
    pub recovery_codes_left: i64,
    /// Organizations of the user that require 2FA (turning it off is refused while any do).
    pub required_by: Vec<String>,
    /// Those of them that accept security keys and passkeys only.
    pub keys_required_by: Vec<String>,
}

/// What the user needs to add Gatehouse to an authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The base32 secret in groups of four, for typing.
    pub secret: String,
    pub otpauth_uri: String,
    /// The otpauth URI as a QR code, an SVG document made on the server.
    pub qr_svg: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

/// Where a member stands with their organization's 2FA policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Compliance {
    /// The organization does not require 2FA.
    NotRequired,
    /// Required, and the member has it on.
    Compliant,
    /// Required, not on yet, and the grace period runs until `deadline` (shown as a date).
    Grace { deadline: String },
    /// Required, not on, and the grace period is over: the org is closed to them.
    Blocked,
}

/// The security part of Organization settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub required: bool,
    /// The methods the policy accepts (when required).
    pub level: PolicyLevel,
    /// End of the grace period, when one was given.
    pub deadline: Option<String>,
    /// Whether the viewer may change the policy (Owner), and whether they have 2FA on.
    pub can_manage: bool,
    pub viewer_has_two_factor: bool,
    /// Whether the viewer has a security key or passkey (needed to require them).
    pub viewer_has_passkey: bool,
    /// Members without 2FA: how many, and the first few by name.
    pub without_count: i64,
    pub without: Vec<MemberWithout>,
    /// How many of them were notified.
    pub notified_count: i64,
}

/// Which second factors "Require two-factor authentication" accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLevel {
    /// An authenticator app, a security key or a passkey.
    Any,
    /// Security keys and passkeys only: phishing-resistant.
    SecurityKeys,
}

impl PolicyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::SecurityKeys => "security_keys",
        }
    }

    /// The form's value (`any`, `security_keys`); anything else is refused.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "any" => Some(Self::Any),
            "security_keys" => Some(Self::SecurityKeys),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberWithout {
    pub name: String,
    pub email: String,
}

/// How many members without 2FA the policy panel lists by name.
pub const WITHOUT_SHOWN: i64 = 20;
pub use crate::policy_impact::model::MAX_GRACE_DAYS;
