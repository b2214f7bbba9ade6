//! The preview's queries. Each is bounded by an index: the members without a method are a
//! range of `memberships (org_id, two_factor_at)` / `(org_id, passkey_at)`, their keys a
//! lookup of `api_keys (org_id, user_id)` each.

use super::model::{AffectedKey, AffectedMember, Impact, Proposal, Reason, MAX_GRACE_DAYS};
use crate::auth::server::Actor;
use crate::dates::date_time;
use crate::error::AppError;
use crate::policy::{authorize, Action};
use crate::state::AppState;

pub(super) const DAY_SECS: i64 = 24 * 3600;

/// The members a proposal would block, as a condition on memberships `m` of organization
/// `$1`. Owners are not held to single sign-on (they keep a way in when the provider fails).
fn blocked_members(proposal: Proposal) -> &'static str {
    match proposal {
        Proposal::TwoFactor => "m.two_factor_at IS NULL",
        Proposal::SecurityKeys => "m.passkey_at IS NULL",
        Proposal::Sso => {
            "m.role <> 'owner' AND NOT EXISTS (SELECT 1 FROM sso_identities i
                 WHERE i.org_id = m.org_id AND i.user_id = m.user_id)"
        }
    }
}

/// Keys of memberships `m` still working at `$2` (the moment the policy blocks).
const LIVE_KEY: &str = "k.org_id = m.org_id AND k.user_id = m.user_id AND k.revoked_at IS NULL
     AND (k.expires_at IS NULL OR k.expires_at > $2)";

/// Parses the grace period of a preview as a form sends it: 0–30 whole days, none is 0.
pub fn grace_days(raw: Option<&str>) -> Result<i64, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(0),
        Some(raw) => check_grace_days(Some(raw.parse::<i64>().map_err(|_| invalid_grace())?)),
    }
}

/// The grace period of a preview as the REST API reads it (a number): 0–30, none is 0.
pub fn check_grace_days(days: Option<i64>) -> Result<i64, AppError> {
    match days {
        None => Ok(0),
        Some(days) if (0..=MAX_GRACE_DAYS).contains(&days) => Ok(days),
        Some(_) => Err(invalid_grace()),
    }
}

fn invalid_grace() -> AppError {
    AppError::invalid(
        "grace_days",
        format!("The grace period is a number of days, 0 to {MAX_GRACE_DAYS}."),
    )
}

/// Who and which keys `proposal` would block if an Owner applied it now with `grace_days`.
/// Lists at most `limit` members and `limit` keys; the counts are of all of them.
pub async fn preview(
    state: &AppState,
    actor: &Actor,
    proposal: Proposal,
    grace_days: i64,
    limit: i64,
) -> Result<Impact, AppError> {
    authorize(actor.role, Action::ManageOrganization)?;
    let grace_days = if proposal.has_grace() { grace_days } else { 0 };
    let now = state.now();
    let blocks_at = now + grace_days * DAY_SECS;
    let blocked = blocked_members(proposal);
    let pool = &state.db.pool;
    let (members_count,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM memberships m WHERE m.org_id = $1 AND {blocked}"
    ))
    .bind(actor.org_id)
    .fetch_one(pool)
    .await?;
    let keys_count = if proposal.refuses_keys() {
        let (n,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM memberships m JOIN api_keys k ON {LIVE_KEY}
             WHERE m.org_id = $1 AND {blocked}"
        ))
        .bind(actor.org_id)
        .bind(blocks_at)
        .fetch_one(pool)
        .await?;
        n
    } else {
        0
    };
    let key_count_column = if proposal.refuses_keys() {
        format!("(SELECT COUNT(*) FROM api_keys k WHERE {LIVE_KEY})")
    } else {
        "0".to_string()
    };
    let members = sqlx::query_as::<_, (i64, String, String, String, Option<i64>, i64)>(&format!(
        "SELECT m.user_id, u.name, u.email, m.role, m.two_factor_at, {key_count_column}
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND {blocked}
         ORDER BY m.member_name, m.user_id LIMIT $3"
    ))
    .bind(actor.org_id)
    .bind(blocks_at)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(
        |(user_id, name, email, role, two_factor_at, keys)| AffectedMember {
            user_id,
            name,
            email,
            role,
            reason: match proposal {
                Proposal::TwoFactor => Reason::NoSecondFactor,
                Proposal::SecurityKeys if two_factor_at.is_some() => Reason::AppOnly,
                Proposal::SecurityKeys => Reason::NoSecondFactor,
                Proposal::Sso => Reason::NoSsoIdentity,
            },
            keys,
        },
    )
    .collect();
    let keys = if proposal.refuses_keys() {
        // Most recently used first: those are the scripts that will break. Used keys walk
        // `api_keys (org_id, last_used_at)` backwards, then never-used ones follow by id.
        let mut keys = affected_keys(state, actor.org_id, blocked, blocks_at, true, limit).await?;
        let rest = limit - keys.len() as i64;
        if rest > 0 {
            keys.extend(affected_keys(state, actor.org_id, blocked, blocks_at, false, rest).await?);
        }
        keys.into_iter()
            .map(
                |(
                    key_id,
                    name,
                    prefix,
                    owner_user_id,
                    owner_email,
                    scopes,
                    last_used_at,
                    ip,
                    agent,
                )| {
                    AffectedKey {
                        key_id,
                        name,
                        prefix,
                        owner_user_id,
                        owner_email,
                        scopes: scopes.split_whitespace().map(str::to_string).collect(),
                        last_used_at,
                        last_used_ago: last_used_at.map(|t| ago(now - t)),
                        last_used_ip: ip,
                        last_used_agent: agent,
                    }
                },
            )
            .collect()
    } else {
        Vec::new()
    };
    Ok(Impact {
        policy: proposal,
        grace_days,
        blocks_at,
        blocks_at_text: date_time(blocks_at),
        members_count,
        keys_count,
        members,
        keys,
        refuses_keys: proposal.refuses_keys(),
    })
}

type KeyRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// Up to `limit` keys the members matching `blocked` would lose: those used (latest first),
/// or those never used (oldest first).
async fn affected_keys(
    state: &AppState,
    org_id: i64,
    blocked: &str,
    blocks_at: i64,
    used: bool,
    limit: i64,
) -> Result<Vec<KeyRow>, AppError> {
    let (which, order) = if used {
        (
            "k.last_used_at IS NOT NULL",
            "k.last_used_at DESC, k.id DESC",
        )
    } else {
        ("k.last_used_at IS NULL", "k.id")
    };
    Ok(sqlx::query_as::<_, KeyRow>(&format!(
        "SELECT k.id, k.name, k.prefix, k.user_id, u.email, k.scopes, k.last_used_at,
                k.last_used_ip, k.last_used_agent
         FROM api_keys k
         JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id
         JOIN users u ON u.id = k.user_id
         WHERE k.org_id = $1 AND {which} AND k.revoked_at IS NULL
           AND (k.expires_at IS NULL OR k.expires_at > $2) AND {blocked}
         ORDER BY {order} LIMIT $3"
    ))
    .bind(org_id)
    .bind(blocks_at)
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?)
}

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago".
pub fn ago(seconds: i64) -> String {
    use crate::words::counted;
    match seconds {
        s if s < 60 => "just now".to_string(),
        s if s < 3600 => format!("{} ago", counted(s / 60, "minute", "minutes")),
        s if s < DAY_SECS => format!("{} ago", counted(s / 3600, "hour", "hours")),
        s => format!("{} ago", counted(s / DAY_SECS, "day", "days")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_days_are_whole_days_from_0_to_30() {
        assert_eq!(grace_days(None), Ok(0));
        assert_eq!(grace_days(Some(" 7 ")), Ok(7));
        assert_eq!(grace_days(Some("30")), Ok(30));
        assert_eq!(check_grace_days(None), Ok(0));
        assert_eq!(check_grace_days(Some(30)), Ok(30));
        assert!(check_grace_days(Some(31)).is_err());
        assert!(check_grace_days(Some(-1)).is_err());
        for bad in ["31", "-1", "1.5", "seven"] {
            assert!(grace_days(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ago_in_words() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(3 * 3600 + 10), "3 hours ago");
        assert_eq!(ago(2 * DAY_SECS), "2 days ago");
    }
}
