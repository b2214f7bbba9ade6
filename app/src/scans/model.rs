use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    pub attempts: i64,
    pub result: Option<String>,
    /// The runner's last sign of life while it runs.
    pub heartbeat_at: Option<i64>,
    /// For a queued scan: why it waits.
    pub waiting: Option<Waiting>,
}

/// Why a queued scan waits: its group's running scans against the limit, and its place in the
/// group's queue (1 = next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub running: i64,
    pub limit: i64,
    pub place: i64,
}

/// Places in a group's queue are counted this far; a scan further back is "more than 1,000th
/// in line" (counting a deep backlog for every scan on a page would cost more than it tells).
pub const PLACES_COUNTED: i64 = 1000;

impl Waiting {
    /// "Red Team is at its limit, 2 of 2 running; 3rd in line", or, with a free slot,
    /// "waiting for a runner; 1st in line".
    pub fn describe(&self, group: &str) -> String {
        let place = if self.place > PLACES_COUNTED {
            "1,000 or more scans ahead".to_string()
        } else {
            format!("{} in line", ordinal(self.place))
        };
        if self.running >= self.limit {
            format!(
                "{group} is at its limit, {} of {} running; {place}",
                self.running, self.limit
            )
        } else {
            format!("waiting for a runner; {place}")
        }
    }
}

/// 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st.
pub fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
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

/// `YYYY-MM-DD HH:MM` in UTC, for the page (no time zone database in the browser bundle).
pub fn short_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A group page's scans: its usage and its latest scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupScans {
    pub usage: GroupScanUsage,
    pub recent: Vec<ScanRow>,
}

/// A group's scans against its concurrent scans limit (groups with scans running or queued).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupScanUsage {
    pub group_id: i64,
    pub name: String,
    pub running: i64,
    pub queued: i64,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_read_as_ordinals() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(super::ordinal)
            .collect();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
        let full = super::Waiting {
            running: 2,
            limit: 2,
            place: 3,
        };
        assert_eq!(
            full.describe("Red Team"),
            "Red Team is at its limit, 2 of 2 running; 3rd in line"
        );
        let free = super::Waiting {
            running: 0,
            limit: 2,
            place: 1,
        };
        assert_eq!(
            free.describe("Red Team"),
            "waiting for a runner; 1st in line"
        );
        let last_counted = super::Waiting {
            place: PLACES_COUNTED,
            ..full
        };
        assert_eq!(
            last_counted.describe("Red Team"),
            "Red Team is at its limit, 2 of 2 running; 1000th in line"
        );
        let deep = super::Waiting {
            place: PLACES_COUNTED + 1,
            ..full
        };
        assert_eq!(
            deep.describe("Red Team"),
            "Red Team is at its limit, 2 of 2 running; 1,000 or more scans ahead"
        );
    }

    #[test]
    fn short_time_is_civil_utc() {
        assert_eq!(short_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(short_time(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(short_time(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn statuses_round_trip() {
        for s in ScanStatus::ALL {
            assert_eq!(ScanStatus::parse(s.as_str()), Ok(s));
        }
        assert!(ScanStatus::parse("done").is_err());
    }
}
