use crate::domain::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub invited: String,
    pub expires: String,
    pub expired: bool,
}

/// What the inviter sees after Invite or Resend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteOutcome {
    pub email: String,
    /// True when an email with the link was sent.
    pub emailed: bool,
    /// True when SMTP is configured but the email could not be sent.
    pub email_failed: bool,
    /// The link to copy, when no email was sent (no SMTP configured, or sending failed).
    pub link: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// The accept page's view of an invitation, found by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub org_name: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub state: InvitationState,
    /// Whether an account with this email exists already (then the person signs in to accept).
    pub account_exists: bool,
    /// The signed-in person's email, if any.
    pub signed_in_as: Option<String>,
}
