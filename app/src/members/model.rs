use crate::domain::Role;
use serde::{Deserialize, Serialize};

/// One row of the members table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Joined, as an ISO date (YYYY-MM-DD).
    pub joined: String,
    /// Whether the member has two-factor authentication on.
    pub two_factor: bool,
    /// Names of the member's groups.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersPage {
    pub members: Vec<MemberRow>,
    /// Pass back as `after` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// What the viewer may do here, so the page shows only what the server would allow.
    pub viewer: Viewer,
    /// People the identity provider suspended (SCIM `active: false`): not members while
    /// suspended, listed on the first page so admins see them.
    #[serde(default)]
    pub suspended: Vec<SuspendedMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendedMember {
    pub name: String,
    pub email: String,
    /// The role they get back when the provider restores them.
    pub role: Role,
    /// Suspended, as an ISO date.
    pub since: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: i64,
    pub role: Role,
    pub can_manage_members: bool,
    pub can_manage_owners: bool,
}

/// The organization's people at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberFigures {
    pub members: i64,
    pub pending_invitations: i64,
    /// Members with 2FA on (Owners and Admins see it).
    pub with_two_factor: Option<i64>,
    /// The viewer may see the 2FA policy panel, which lists the members without 2FA (Owners);
    /// Admins find them in the members list's 2FA column.
    pub policy_visible: bool,
    /// The organization requires 2FA...
    pub two_factor_required: bool,
    /// ...of security keys and passkeys only.
    pub security_keys_only: bool,
    /// The end of the grace period, while it runs ("2026-12-05 10:00 UTC").
    pub two_factor_deadline: Option<String>,
}
