use super::model::Overview;
use crate::api_keys::server::expiry::expiring;
use crate::auth::server::Actor;
use crate::error::AppError;
use crate::policy::{allows, Action};
use crate::state::AppState;

/// Audit events shown.
const RECENT_EVENTS: i64 = 10;
/// Finished or failed scans shown.
const RECENT_SCANS: i64 = 5;
const DAY: i64 = 24 * 3600;

/// The overview for `actor`, each part only for the roles that may see it.
pub async fn load(state: &AppState, actor: &Actor) -> Result<Overview, AppError> {
    let role = actor.role;
    // Owners and Admins see the organization's health: compliance, integrations, all keys.
    let administers = allows(role, Action::ManageMembers);
    let members = if allows(role, Action::ViewMembers) {
        Some(crate::members::server::figures(state, actor).await?)
    } else {
        None
    };
    let uses_scans = allows(
        role,
        Action::Scans {
            member_of_group: true,
        },
    );
    let (scan_usage, recent_scans) = if uses_scans {
        (
            Some(crate::scans::server::usage(state, actor).await?),
            Some(crate::scans::server::recently_done(state, actor, RECENT_SCANS).await?),
        )
    } else {
        (None, None)
    };
    let failing_integrations = if administers {
        let since = state.now() - DAY;
        Some(crate::integrations::server::failing_since(state, actor.org_id, since).await?)
    } else {
        None
    };
    let recent_events = if allows(role, Action::ViewAuditLog) {
        let all = crate::audit::model::AuditFilter::default();
        let page = crate::audit::page(state, actor, &all, None, RECENT_EVENTS).await?;
        Some(page.events)
    } else {
        None
    };
    let org_keys_expiring = if administers {
        Some(expiring(state, actor.org_id, None).await?)
    } else {
        None
    };
    let my_keys_expiring = expiring(state, actor.org_id, Some(actor.user_id)).await?;
    Ok(Overview {
        members,
        scan_usage,
        recent_scans,
        failing_integrations,
        recent_events,
        org_keys_expiring,
        my_keys_expiring,
    })
}
