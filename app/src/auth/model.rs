use crate::domain::Role;
use crate::two_factor::model::Compliance;
use serde::{Deserialize, Serialize};

/// What the browser knows about the signed-in person. Never carries secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub orgs: Vec<OrgSummary>,
    /// The organization the pages show; `None` only for a user who belongs to none.
    pub current_org: Option<OrgSummary>,
    pub two_factor_enabled: bool,
    /// An authenticator app is set up (Confirm access asks for its code).
    pub authenticator_app: bool,
    /// The user has a security key or passkey (a step-up can ask for a touch of it).
    #[serde(default)]
    pub passkeys: bool,
    /// Organizations that asked this user (Notify) to turn on 2FA, while it is off.
    pub two_factor_notices: Vec<String>,
    /// One of the user's API keys expires soon ("in 6 days"): the warning they have not
    /// dismissed.
    pub key_expiry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// Where the user stands with this organization's 2FA policy.
    pub two_factor: Compliance,
    /// This organization asked the user (Notify) to turn 2FA on.
    pub two_factor_notice: bool,
    /// The organization's policy accepts security keys and passkeys only.
    pub security_keys_only: bool,
    /// The organization requires single sign-on and this session did not come through its
    /// provider (never for Owners, who keep a password path).
    #[serde(default)]
    pub sso_required: bool,
    /// What this session must still prove before acting here (see [`StepUp`]).
    #[serde(default)]
    pub step_up: Option<StepUp>,
    /// A policy this organization is trying in report-only mode that would refuse this
    /// request (`two_factor`, `security_keys`, `sso`): nothing is refused, it is counted.
    /// Server-side only.
    #[serde(skip)]
    pub would_deny: Option<&'static str>,
}

/// What an organization asks of a session that is signed in but was not proven enough for
/// it: Gatehouse's own second factor (the session came through another organization's
/// provider, whose multi-factor authentication counts only there), or a security key or
/// passkey (the organization accepts those only, and the session used an app code or a
/// recovery code). Asked in place, without signing in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUp {
    SecondFactor,
    SecurityKey,
}
