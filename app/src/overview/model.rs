use crate::api_keys::model::ExpiringKey;
use crate::audit::model::AuditRow;
use crate::integrations::model::FailingGroup;
use crate::members::model::MemberFigures;
use crate::scans::model::{GroupScanUsage, ScanRow};
use serde::{Deserialize, Serialize};

/// What the overview shows the viewer; a part they may not see is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// Everyone who sees the members list.
    pub members: Option<MemberFigures>,
    /// Groups with scans running or queued (those the viewer's scans rights cover).
    pub scan_usage: Option<Vec<GroupScanUsage>>,
    pub recent_scans: Option<Vec<ScanRow>>,
    /// Owners and Admins: groups whose integrations failed in the last day.
    pub failing_integrations: Option<Vec<FailingGroup>>,
    /// Owners and Admins: the last audit events.
    pub recent_events: Option<Vec<AuditRow>>,
    /// Owners and Admins: the organization's keys that expire within 7 days.
    pub org_keys_expiring: Option<Vec<ExpiringKey>>,
    /// The viewer's own keys in this organization that expire within 7 days.
    pub my_keys_expiring: Vec<ExpiringKey>,
    /// Owners: verified domains another organization took over (domain, when).
    #[serde(default)]
    pub domains_taken_over: Option<Vec<(String, String)>>,
}
