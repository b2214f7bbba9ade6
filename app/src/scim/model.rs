//! What the Provisioning panel shows.

use crate::domain::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimTokenRow {
    pub id: i64,
    pub name: String,
    /// The first characters, to tell tokens apart (`gths_AbC123`).
    pub prefix: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub last_used: Option<String>,
}

/// A person the provider provisioned, newest change first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionedPerson {
    pub name: String,
    pub email: String,
    pub suspended: bool,
    pub changed: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningError {
    pub request: String,
    pub status: u16,
    pub detail: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisioningView {
    /// What the provider is given as the SCIM base URL.
    pub base_url: String,
    /// Provisioning is on while the organization has a token.
    pub tokens: Vec<ScimTokenRow>,
    pub default_role: Role,
    pub provisioned_users: i64,
    pub suspended_users: i64,
    pub provisioned_groups: i64,
    /// The last people the provider added or changed.
    pub recent: Vec<ProvisionedPerson>,
    pub errors: Vec<ProvisioningError>,
}

/// A token just made: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewScimToken {
    pub id: i64,
    pub name: String,
    pub token: String,
}
