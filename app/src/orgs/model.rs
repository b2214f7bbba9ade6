use serde::{Deserialize, Serialize};

/// The Organization panel of Organization settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    pub id: i64,
    pub name: String,
    pub can_manage: bool,
    pub can_see_billing: bool,
}
