//! Organization settings: the Organization panel (name), Billing, and deleting the organization.

use super::api::{get_org_settings, DeleteOrg, RenameOrg};
use crate::auth::model::SessionInfo;
use crate::billing::views::BillingPanel;
use crate::forms::{field_error, general_error, Field};
use crate::guard::SignedIn;
use crate::policy::{allows, Action};
use crate::policy_impact::views::ReportOnlyTrials;
use crate::session_context::refresh_session_when;
use crate::two_factor::views::SecurityPanel;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Organization settings"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) => {
                // Both policy panels show the trials: read once for the page.
                let trials = allows(org.role, Action::ManageOrganization).then(|| ReportOnlyTrials::new(org.id));
                view! {
                    <h1>"Organization settings"</h1>
                    <OrganizationPanel org_id=org.id/>
                    {trials.map(|trials| view! { <SecurityPanel org_id=org.id trials/> })}
                    {allows(org.role, Action::ManageOrganization).then(|| view! { <crate::domains::views::DomainsPanel org_id=org.id/> })}
                    {trials.map(|trials| view! { <crate::sso::views::SsoPanel org_id=org.id trials/> })}
                    {allows(org.role, Action::ManageOrganization).then(|| view! { <crate::scim::views::ProvisioningPanel org_id=org.id/> })}
                    {allows(org.role, Action::ManageOrganization).then(|| view! { <crate::audit_streams::views::AuditStreamsPanel org_id=org.id/> })}
                    {allows(org.role, Action::ManageBilling).then(|| view! { <BillingPanel org_id=org.id/> })}
                    {allows(org.role, Action::ManageOrganization).then(|| view! { <DeleteOrgPanel org_id=org.id/> })}
                }.into_any()
            }
            None => view! { <p class="card empty">"You are not a member of any organization."</p> }.into_any(),
        }/>
    }
}

/// The **Organization settings** panel: name (Owner may change it) and your role.
#[component]
fn OrganizationPanel(org_id: i64) -> impl IntoView {
    let rename = ServerAction::<RenameOrg>::new();
    refresh_session_when(move || matches!(rename.value().get(), Some(Ok(()))));
    let settings = Resource::new(
        move || rename.version().get(),
        move |_| get_org_settings(org_id),
    );
    view! {
        <section class="card" aria-labelledby="org-panel">
            <h2 id="org-panel">"Organization"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) if s.can_manage => view! {
                            <ActionForm action=rename>
                                <input type="hidden" name="org_id" value=org_id.to_string()/>
                                <Field label="Organization name" name="organization" value=s.name.clone() error=field_error(rename.value(), "organization")/>
                                <p class="form-error" role="alert">{move || general_error(rename.value(), &["organization"]).get()}</p>
                                <button type="submit" class="button">"Save"</button>
                            </ActionForm>
                        }.into_any(),
                        Ok(s) => view! { <dl class="facts"><dt>"Name"</dt><dd>{s.name}</dd></dl> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DeleteOrgPanel(org_id: i64) -> impl IntoView {
    let delete = ServerAction::<DeleteOrg>::new();
    refresh_session_when(move || matches!(delete.value().get(), Some(Ok(()))));
    view! {
        <section class="card danger-zone" aria-labelledby="delete-title">
            <h2 id="delete-title">"Delete organization"</h2>
            <p class="muted">"Deletes the organization, its memberships, groups and invitations. This cannot be undone."</p>
            <ActionForm action=delete>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field label="Type the organization's name to confirm" name="confirm" autocomplete="off" error=field_error(delete.value(), "confirm")/>
                <p class="form-error" role="alert">{move || general_error(delete.value(), &["confirm"]).get()}</p>
                <button type="submit" class="button danger">"Delete organization"</button>
            </ActionForm>
            <crate::auth::confirm_access::ConfirmAccessPrompt asked=crate::forms::asks_confirmation(delete.value()) id="delete-org-confirm"/>
        </section>
    }
}
