use super::model::Overview;
use crate::api_keys::server::expiry::expiring;
use crate::auth::server::Actor;
use crate::error::AppError;
use crate::policy::{allows, Action};
use crate::state::AppState;
use std::future::Future;

/// Audit events shown.
const RECENT_EVENTS: i64 = 10;
/// Finished or failed scans shown.
const RECENT_SCANS: i64 = 5;
const DAY: i64 = 24 * 3600;

/// `part` when `shown`, else nothing (and no query).
async fn part<T>(
    shown: bool,
    part: impl Future<Output = Result<T, AppError>>,
) -> Result<Option<T>, AppError> {
    if shown {
        part.await.map(Some)
    } else {
        Ok(None)
    }
}

/// The overview for `actor`, each part only for the roles that may see it. The parts are
/// independent queries, read at the same time on their own pool connections: the page takes
/// about as long as its slowest part (the 2FA count at 100,000 members), not their sum.
pub async fn load(state: &AppState, actor: &Actor) -> Result<Overview, AppError> {
    let role = actor.role;
    // Owners and Admins see the organization's health: compliance, integrations, all keys.
    let administers = allows(role, Action::ManageMembers);
    let uses_scans = allows(
        role,
        Action::Scans {
            member_of_group: true,
        },
    );
    let all_events = crate::audit::model::AuditFilter::default();
    let (
        members,
        scan_usage,
        recent_scans,
        failing_integrations,
        recent_events,
        org_keys_expiring,
        my_keys_expiring,
        domains_taken_over,
    ) = tokio::try_join!(
        part(
            allows(role, Action::ViewMembers),
            crate::members::server::figures(state, actor)
        ),
        part(uses_scans, crate::scans::server::usage(state, actor)),
        part(
            uses_scans,
            crate::scans::server::recently_done(state, actor, RECENT_SCANS)
        ),
        part(
            administers,
            crate::integrations::server::failing_since(state, actor.org_id, state.now() - DAY)
        ),
        part(allows(role, Action::ViewAuditLog), async {
            let page = crate::audit::page(state, actor, &all_events, None, RECENT_EVENTS).await?;
            Ok(page.events)
        }),
        part(administers, expiring(state, actor.org_id, None)),
        expiring(state, actor.org_id, Some(actor.user_id)),
        part(
            allows(role, Action::ManageOrganization),
            crate::domains::server::taken_over(state, actor.org_id)
        ),
    )?;
    Ok(Overview {
        members,
        scan_usage,
        recent_scans,
        failing_integrations,
        recent_events,
        org_keys_expiring,
        my_keys_expiring,
        domains_taken_over,
    })
}
