//! Where a member stands under the organization's 2FA policy, from the columns a query read:
//! the pure part of the policy, shared by the pages' and the API keys' checks (and the key
//! cache, which keeps these columns). Below the policy's panel and everything that asks it.

use crate::dates::date_time;
use crate::error::AppError;
use crate::two_factor::model::{Compliance, PolicyLevel};

/// The organization's side of the policy and the member's side, as stored.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInputs {
    pub required: bool,
    pub since: Option<i64>,
    pub deadline: Option<i64>,
    pub member_since: i64,
    pub has_two_factor: bool,
}

/// The columns [`PolicyInputs`] come from, for queries that join a membership with its
/// organization and user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StandingRow {
    pub require_two_factor: i64,
    pub two_factor_since: Option<i64>,
    pub two_factor_deadline: Option<i64>,
    pub member_since: i64,
    pub two_factor_at: Option<i64>,
    pub passkey_at: Option<i64>,
}

/// Select list for [`StandingRow`], with memberships `m`, organizations `o`, users `u`.
pub const STANDING_COLUMNS: &str =
    "o.require_two_factor, o.two_factor_since, o.two_factor_deadline, \
     m.created_at AS member_since, u.two_factor_at, u.passkey_at";

impl StandingRow {
    /// The six [`STANDING_COLUMNS`] of a read row, starting at column `first`.
    pub fn from_read(row: &crate::db::ReadRow, first: usize) -> Result<Self, AppError> {
        Ok(Self {
            require_two_factor: row.i64(first)?,
            two_factor_since: row.opt_i64(first + 1)?,
            two_factor_deadline: row.opt_i64(first + 2)?,
            member_since: row.i64(first + 3)?,
            two_factor_at: row.opt_i64(first + 4)?,
            passkey_at: row.opt_i64(first + 5)?,
        })
    }

    /// Whether the organization accepts security keys and passkeys only.
    pub fn security_keys_only(&self) -> bool {
        PolicyLevel::from_stored(self.require_two_factor) == Some(PolicyLevel::SecurityKeys)
    }

    pub fn compliance(&self, now: i64) -> Compliance {
        let level = PolicyLevel::from_stored(self.require_two_factor);
        compliance(
            PolicyInputs {
                required: level.is_some(),
                since: self.two_factor_since,
                deadline: self.two_factor_deadline,
                member_since: self.member_since,
                has_two_factor: match level {
                    Some(PolicyLevel::SecurityKeys) => self.passkey_at.is_some(),
                    _ => self.two_factor_at.is_some(),
                },
            },
            now,
        )
    }
}

impl PolicyLevel {
    /// `organizations.require_two_factor`: 0 not required, 1 any method, 2 security keys only.
    pub fn from_stored(raw: i64) -> Option<Self> {
        match raw {
            0 => None,
            2 => Some(Self::SecurityKeys),
            _ => Some(Self::Any),
        }
    }

    pub fn stored(self) -> i64 {
        match self {
            Self::Any => 1,
            Self::SecurityKeys => 2,
        }
    }

    /// The membership column that says a member complies at this level.
    pub(super) fn complying_column(self) -> &'static str {
        match self {
            Self::Any => "two_factor_at",
            Self::SecurityKeys => "passkey_at",
        }
    }
}

/// The policy an organization is trying in report-only mode (`two_factor_trial`: 1 any
/// method, 2 security keys only, until `until`) that would refuse a member standing as
/// `standing`: `two_factor` or `security_keys`, or `None`.
pub fn trial_denies(
    trial: i64,
    until: Option<i64>,
    standing: &StandingRow,
    now: i64,
) -> Option<&'static str> {
    if until.is_none_or(|until| until <= now) {
        return None;
    }
    match PolicyLevel::from_stored(trial)? {
        PolicyLevel::Any => standing.two_factor_at.is_none().then_some("two_factor"),
        PolicyLevel::SecurityKeys => standing.passkey_at.is_none().then_some("security_keys"),
    }
}

/// Where a member stands. Members who joined after the policy was applied get no grace
/// period: they set up 2FA before their first access.
pub fn compliance(p: PolicyInputs, now: i64) -> Compliance {
    if !p.required {
        return Compliance::NotRequired;
    }
    if p.has_two_factor {
        return Compliance::Compliant;
    }
    let joined_after = p.since.is_some_and(|since| p.member_since >= since);
    match p.deadline {
        Some(deadline) if deadline > now && !joined_after => Compliance::Grace {
            deadline: date_time(deadline),
        },
        _ => Compliance::Blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(has: bool, deadline: i64, member_since: i64) -> PolicyInputs {
        PolicyInputs {
            required: true,
            since: Some(1000),
            deadline: Some(deadline),
            member_since,
            has_two_factor: has,
        }
    }

    #[test]
    fn grace_period_then_blocked_and_no_grace_for_later_members() {
        let now = 2000;
        assert_eq!(
            compliance(
                PolicyInputs {
                    required: false,
                    ..inputs(false, 0, 0)
                },
                now
            ),
            Compliance::NotRequired
        );
        assert_eq!(
            compliance(inputs(true, 5000, 0), now),
            Compliance::Compliant
        );
        assert!(matches!(
            compliance(inputs(false, 5000, 500), now),
            Compliance::Grace { .. }
        ));
        assert_eq!(
            compliance(inputs(false, 2000, 500), now),
            Compliance::Blocked,
            "at the deadline"
        );
        assert_eq!(
            compliance(inputs(false, 5000, 1500), now),
            Compliance::Blocked,
            "joined after"
        );
    }
}
