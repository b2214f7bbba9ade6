//! The signed-in guard every organization page is drawn in: it sends signed-out visitors to
//! Sign in, and shows the page a policy requires instead of the page when the session falls
//! short of it (single sign-on, two-factor authentication, a step-up).

use crate::auth::model::SessionInfo;
use crate::session_context::session_now;
use crate::two_factor::model::Compliance;
use crate::two_factor::views::TwoFactorRequiredPage;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Renders `page` with the signed-in session; sends everyone else to Sign in. A member whom
/// the current organization's 2FA policy shuts out gets the "required" page instead, unless
/// `any_standing` (the profile, where they set 2FA up; keep `PAGES_OPEN_TO_ALL` in
/// `server/src/page_gate.rs` in step).
#[component]
pub fn SignedIn<F, V>(page: F, #[prop(optional)] any_standing: bool) -> impl IntoView
where
    F: Fn(SessionInfo) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    match session_now() {
        Ok(Some(info)) => match info.current_org.as_ref() {
            Some(org) if org.sso_required && !any_standing => {
                view! { <crate::sso::views::SsoRequiredPage org_name=org.name.clone() org_id=org.id/> }.into_any()
            }
            Some(org) if org.two_factor == Compliance::Blocked && !any_standing => {
                view! { <TwoFactorRequiredPage org_name=org.name.clone() security_keys_only=org.security_keys_only/> }.into_any()
            }
            Some(org) if org.step_up.is_some() && !any_standing => {
                let security_key = org.step_up == Some(crate::auth::model::StepUp::SecurityKey);
                view! { <crate::two_factor::step_up::views::StepUpPage org_name=org.name.clone() security_key/> }.into_any()
            }
            _ => page(info).into_any(),
        },
        Ok(None) => view! { <Redirect path="/signin"/> }.into_any(),
        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
    }
}
