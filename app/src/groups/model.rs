use serde::{Deserialize, Serialize};

/// One row of the groups list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub scans_limit: i64,
    /// Labels of the integrations that are on ("Webhook", "Slack", "Email").
    pub integrations_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsPage {
    pub groups: Vec<GroupRow>,
    pub next_cursor: Option<String>,
    pub can_create: bool,
    /// The plan's cap on a group's concurrent scans limit.
    pub max_scans_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub user_id: i64,
    pub name: String,
    pub email: String,
}

/// A group's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub scans_limit: i64,
    pub max_scans_limit: i64,
    pub member_count: i64,
    /// The first members by name (the page shows how many there are in all).
    pub members: Vec<GroupMember>,
    pub can_edit: bool,
    pub can_delete: bool,
    /// Made by provisioning: its name and members follow the identity provider.
    #[serde(default)]
    pub provisioned: bool,
}

/// How many members a group page lists.
pub const MEMBERS_SHOWN: i64 = 100;
/// The widest limit any plan allows.
pub const SCANS_LIMIT_MAX: i64 = 1000;
