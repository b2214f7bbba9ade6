//! The signed-in pages of the shell, and the 404 page.

use crate::auth::model::SessionInfo;
use crate::guard::SignedIn;
use crate::overview::views::OverviewCards;
use crate::policy::{allows, Action};
use crate::two_factor::views::TwoFactorPanel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

fn org_title(info: &SessionInfo) -> String {
    info.current_org
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_else(|| "No organization".into())
}

/// The home page: the current organization's overview (`overview`), or for someone in no
/// organization, where to go.
#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text="Overview"/>
        <SignedIn page=|info: SessionInfo| {
            let role = info.current_org.as_ref().map(|o| o.role.label()).unwrap_or("—");
            view! {
                <h1>{org_title(&info)}</h1>
                <p class="muted">"Signed in as " {info.name.clone()} " · your role: " <strong>{role}</strong></p>
                {match info.current_org.as_ref() {
                    Some(org) => view! { <OverviewCards org_id=org.id/> }.into_any(),
                    None => view! {
                        <div class="tiles">
                            <A href="/profile" attr:class="tile"><h2>"Profile"</h2><p>"Two-factor authentication and API keys."</p></A>
                        </div>
                    }.into_any(),
                }}
            }
        }/>
    }
}

/// A group's page (groups) with its scans (scans) for those whose role includes scans.
#[component]
pub fn GroupPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    view! {
        <Title text="Group"/>
        <SignedIn page=move |info: SessionInfo| {
            let group_id = params.with_untracked(|p| p.get("id")).and_then(|id| id.parse::<i64>().ok());
            match (info.current_org.clone(), group_id) {
                (Some(org), Some(group_id)) => {
                    let scans = allows(org.role, Action::Scans { member_of_group: true });
                    view! {
                        <crate::groups::views::Group org_id=org.id group_id>
                            {scans.then(|| view! { <crate::scans::views::GroupScansPanel org_id=org.id group_id/> })}
                        </crate::groups::views::Group>
                    }.into_any()
                }
                _ => view! { <NotFound/> }.into_any(),
            }
        }/>
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Profile"/>
        <SignedIn any_standing=true page=|info: SessionInfo| view! {
            <h1>"Profile"</h1>
            <crate::auth::views::AccountPanel name=info.name.clone() email=info.email.clone()/>
            <crate::auth::views::ChangePasswordPanel/>
            <TwoFactorPanel/>
            <crate::api_keys::views::ApiKeysPanel/>
            <crate::sessions::views::SessionsPanel/>
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
