//! The app shell: provides the session to every page, reads it once per render, and draws the
//! top bar and the banners above the page. It only aggregates: nothing below imports it (the
//! session's context is `session_context`, the signed-in guard `guard`).

use crate::api_keys::views::{KeyExpiryBanner, KeyExpiryNotice};
use crate::auth::api::current_session;
use crate::auth::model::SessionInfo;
use crate::error::AppError;
use crate::policy::{allows, Action};
use crate::session_context::{AuthActions, CurrentSession, SessionResource};
use crate::two_factor::views::TwoFactorBanner;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

pub fn provide_session() {
    let actions = AuthActions {
        sign_in: ServerAction::new(),
        second_factor: ServerAction::new(),
        sign_up: ServerAction::new(),
        sign_out: ServerAction::new(),
        switch_org: ServerAction::new(),
        refresh: RwSignal::new(0),
    };
    // Blocking: the server waits for it before sending headers, so a page can still redirect.
    let session = Resource::new_blocking(
        move || {
            (
                actions.sign_in.version().get(),
                actions.second_factor.version().get(),
                actions.sign_up.version().get(),
                actions.sign_out.version().get(),
                actions.switch_org.version().get(),
                actions.refresh.get(),
            )
        },
        |_| current_session(),
    );
    provide_context(actions);
    provide_context(SessionResource(session));
    crate::two_factor::fresh::provide_fresh_codes();
}

/// Reads the session resource once and renders the top bar and `children` with it; pages
/// read the resolved value from context.
///
/// A plain read (not `Suspend`), so that the page is built once per server render: the
/// server walks a Suspense boundary's children twice (once to find its resources, once to
/// render), and a `Suspend` that awaits an already-resolved resource built the whole page in
/// both walks, running every page resource's queries twice. With a read, the first walk
/// sees no session yet and builds nothing; the boundary waits for the resource, and the
/// second walk builds the page.
#[component]
pub fn WithSession(children: ChildrenFn) -> impl IntoView {
    let session = expect_context::<SessionResource>().0;
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                session
                    .get()
                    .map(|current| view! { <ProvideSession current children/> })
            }}
        </Transition>
    }
}

/// The shell of every page: top bar and the matched page, with the session read once.
#[component]
pub fn AppLayout() -> impl IntoView {
    view! { <WithSession><Outlet/></WithSession> }
}

#[component]
fn ProvideSession(
    current: Result<Option<SessionInfo>, AppError>,
    children: ChildrenFn,
) -> impl IntoView {
    provide_context(CurrentSession(current.clone()));
    let banner = match &current {
        Ok(Some(info)) => {
            let notice = KeyExpiryNotice::provide(info.key_expiry.clone());
            Some(view! {
                <TwoFactorBanner info=info.clone()/>
                <KeyExpiryBanner notice/>
            })
        }
        _ => None,
    };
    view! {
        <TopBar session=current/>
        {banner}
        <main class="page">{children()}</main>
    }
}

#[component]
fn TopBar(session: Result<Option<SessionInfo>, AppError>) -> impl IntoView {
    let actions = expect_context::<AuthActions>();
    let content = match session {
        Ok(Some(info)) => view! { <SignedInBar info actions/> }.into_any(),
        _ => view! {
            <nav class="topnav" aria-label="Account">
                <A href="/signin">"Sign in"</A>
                <A href="/signup">"Sign up"</A>
            </nav>
        }
        .into_any(),
    };
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">"Gatehouse"</A>
            {content}
        </header>
    }
}

#[component]
fn SignedInBar(info: SessionInfo, actions: AuthActions) -> impl IntoView {
    let org_name = info
        .current_org
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_default();
    let current_id = info.current_org.as_ref().map(|o| o.id);
    let role = info.current_org.as_ref().map(|o| o.role);
    let sees_members = role.is_some_and(|r| allows(r, Action::ViewMembers));
    let sees_audit = role.is_some_and(|r| allows(r, Action::ViewAuditLog));
    let switcher = (info.orgs.len() > 1).then(|| {
        let options = info
            .orgs
            .iter()
            .map(|o| {
                let selected = Some(o.id) == current_id;
                view! { <option value=o.id.to_string() selected=selected>{o.name.clone()}</option> }
            })
            .collect_view();
        view! {
            <ActionForm action=actions.switch_org attr:class="org-switcher">
                <label class="visually-hidden" for="org-switcher">"Organization"</label>
                <select id="org-switcher" name="org_id">{options}</select>
                <button type="submit" class="button small">"Switch"</button>
            </ActionForm>
        }
    });
    view! {
        <span class="org-name" data-testid="org-name">{org_name}</span>
        {switcher}
        <nav class="topnav" aria-label="Main">
            {sees_members.then(|| view! {
                <A href="/members">"Members"</A>
                <A href="/groups">"Groups"</A>
                <A href="/scans">"Scans"</A>
            })}
            <A href="/settings">"Organization settings"</A>
            {sees_audit.then(|| view! { <A href="/audit">"Audit log"</A> })}
            <A href="/profile">"Profile"</A>
        </nav>
        <ActionForm action=actions.sign_out attr:class="signout">
            <span class="muted user-name">{info.name.clone()}</span>
            <button type="submit" class="button small secondary">"Sign out"</button>
        </ActionForm>
    }
}
