use serde::{Deserialize, Serialize};

/// One signed-in session of the viewer, newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEntry {
    /// Names the session to sign it out; the hash its cookie is stored under, never the
    /// cookie itself, and only ever shown to the session's own user.
    pub id: String,
    /// "Firefox on Linux", or "Unknown browser" for a client that did not say.
    pub device: String,
    pub ip: Option<String>,
    pub signed_in: String,
    /// How it was proven: "Password and authenticator app", "Single sign-on (Corp) and the
    /// provider's multi-factor authentication".
    #[serde(default)]
    pub signed_in_with: String,
    pub last_seen: String,
    /// The session this page was opened with.
    pub current: bool,
}
