use crate::domain::Role;
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub id: i64,
    pub name: String,
    pub role: Role,
}
