use serde::{Deserialize, Serialize};

/// A registered security key or passkey, as the profile page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyEntry {
    pub id: i64,
    pub name: String,
    /// When it was added and last used to sign in, as dates.
    pub added: String,
    pub last_used: Option<String>,
}

/// How long a ceremony (registration or sign-in) may take between its two steps, in seconds.
pub const CEREMONY_SECS: i64 = 5 * 60;

/// The most security keys and passkeys one person may register.
pub const MAX_PER_USER: i64 = 20;

/// What the second step of sign-in offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethods {
    pub passkey: bool,
    pub app: bool,
    /// Why a registered security key or passkey cannot be used on this page, when it cannot.
    pub passkey_unavailable: Option<String>,
}
