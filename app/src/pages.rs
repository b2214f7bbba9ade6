//! The signed-in pages of the shell, and the 404 page.

use crate::auth::model::SessionInfo;
use crate::billing::views::BillingPanel;
use crate::forms::{field_error, general_error, Field};
use crate::layout::SignedIn;
use crate::orgs::api::{get_org_settings, DeleteOrg, RenameOrg};
use crate::policy::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

fn org_title(info: &SessionInfo) -> String {
    info.current_org
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_else(|| "No organization".into())
}

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text="Overview"/>
        <SignedIn page=|info: SessionInfo| {
            let role = info.current_org.as_ref().map(|o| o.role.label()).unwrap_or("—");
            let sees_members = info.current_org.as_ref().is_some_and(|o| allows(o.role, Action::ViewMembers));
            view! {
                <h1>{org_title(&info)}</h1>
                <p class="muted">"Signed in as " {info.name.clone()} " · your role: " <strong>{role}</strong></p>
                <div class="tiles">
                    {sees_members.then(|| view! {
                        <A href="/members" attr:class="tile"><h2>"Members"</h2><p>"People, roles and invitations."</p></A>
                        <A href="/groups" attr:class="tile"><h2>"Groups"</h2><p>"Integrations and concurrent scans limits."</p></A>
                    })}
                    <A href="/settings" attr:class="tile"><h2>"Organization settings"</h2><p>"Security policy and billing."</p></A>
                    <A href="/profile" attr:class="tile"><h2>"Profile"</h2><p>"Two-factor authentication and API keys."</p></A>
                </div>
            }
        }/>
    }
}

#[component]
pub fn GroupsPage() -> impl IntoView {
    view! {
        <Title text="Groups"/>
        <SignedIn page=|info: SessionInfo| view! {
            <h1>"Groups"</h1>
            <p class="muted">{org_title(&info)}</p>
            <div class="card empty">
                <p>"No groups yet."</p>
            </div>
        }/>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Organization settings"/>
        <SignedIn page=|info: SessionInfo| match info.current_org.clone() {
            Some(org) => view! {
                <h1>"Organization settings"</h1>
                <OrganizationPanel org_id=org.id/>
                {allows(org.role, Action::ManageBilling).then(|| view! { <BillingPanel org_id=org.id/> })}
                {allows(org.role, Action::ManageOrganization).then(|| view! { <DeleteOrgPanel org_id=org.id/> })}
            }.into_any(),
            None => view! { <p class="card empty">"You are not a member of any organization."</p> }.into_any(),
        }/>
    }
}

/// The **Organization settings** panel: name (Owner may change it) and your role.
#[component]
fn OrganizationPanel(org_id: i64) -> impl IntoView {
    let rename = ServerAction::<RenameOrg>::new();
    let auth = expect_context::<crate::layout::AuthActions>();
    Effect::new(move |_| {
        if matches!(rename.value().get(), Some(Ok(()))) {
            auth.refresh_session();
        }
    });
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
    let auth = expect_context::<crate::layout::AuthActions>();
    Effect::new(move |_| {
        if matches!(delete.value().get(), Some(Ok(()))) {
            auth.refresh_session();
        }
    });
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
        </section>
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Profile"/>
        <SignedIn page=|info: SessionInfo| view! {
            <h1>"Profile"</h1>
            <section class="card" aria-labelledby="profile-panel">
                <h2 id="profile-panel">"Your account"</h2>
                <dl class="facts">
                    <dt>"Name"</dt><dd>{info.name.clone()}</dd>
                    <dt>"Email"</dt><dd>{info.email.clone()}</dd>
                </dl>
            </section>
        }/>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p class="muted">"There is nothing at this address."</p>
            <A href="/" attr:class="button">"Go to the overview"</A>
        </section>
    }
}
