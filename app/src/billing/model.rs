use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Team,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Team, Plan::Enterprise];

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| AppError::invalid("plan", "Choose Free, Team or Enterprise."))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Team => "team",
            Plan::Enterprise => "enterprise",
        }
    }

    /// The highest concurrent scans limit a group may have on this plan.
    pub fn max_scans_limit(self) -> i64 {
        match self {
            Plan::Free => 5,
            Plan::Team => 100,
            Plan::Enterprise => 1000,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Plan::Free => "Free",
            Plan::Team => "Team",
            Plan::Enterprise => "Enterprise",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    pub plan: Plan,
    pub seats: i64,
    pub billing_email: String,
    pub members: i64,
    pub pending_invitations: i64,
}

/// Seats: a whole number from 1 to 1,000,000.
pub fn parse_seats(raw: &str) -> Result<i64, AppError> {
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(AppError::invalid(
            "seats",
            "Seats must be a whole number from 1 to 1,000,000.",
        )),
    }
}
