use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    Queued,
    Running,
    Finished,
    Failed,
    Cancelled,
}

impl ScanStatus {
    pub const ALL: [ScanStatus; 5] = [
        ScanStatus::Queued,
        ScanStatus::Running,
        ScanStatus::Finished,
        ScanStatus::Failed,
        ScanStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Queued => "queued",
            ScanStatus::Running => "running",
            ScanStatus::Finished => "finished",
            ScanStatus::Failed => "failed",
            ScanStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or_else(|| {
                AppError::invalid(
                    "status",
                    "Status is one of queued, running, finished, failed, cancelled.",
                )
            })
    }

    /// Whether the scan may still be cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, ScanStatus::Queued | ScanStatus::Running)
    }
}

/// One scan, as the Scans page and the REST API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRow {
    pub id: i64,
    pub group_id: i64,
    pub group_name: String,
    pub target: String,
    pub status: ScanStatus,
    /// Who started it ("Name <email>"), or "—" when that account is gone.
    pub started_by: String,
    /// Unix seconds.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The same times as the page shows them (`YYYY-MM-DD HH:MM UTC`).
    pub created: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub attempts: i64,
    pub result: Option<String>,
}

/// A group the user may start scans in (and filter by).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanGroup {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScansPage {
    pub scans: Vec<ScanRow>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in ScanStatus::ALL {
            assert_eq!(ScanStatus::parse(s.as_str()), Ok(s));
        }
        assert!(ScanStatus::parse("done").is_err());
    }
}
