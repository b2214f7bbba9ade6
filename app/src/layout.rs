//! The app shell: provides the session to every page, reads it once per render, and draws the
//! top bar and the banners above the page. It only aggregates: nothing below imports it (the
//! session's context is `session_context`, the signed-in guard `guard`).

use crate::api_keys::views::{KeyExpiryBanner, KeyExpiryNotice};
use crate::auth::api::current_session;
use crate::auth::model::SessionInfo;
#[cfg(feature = "ssr")]
use crate::auth::server::session_of_this_page;
use crate::error::AppError;
use crate::policy::{allows, Action};
use crate::session_context::{AuthActions, CurrentSession, SessionState};
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
    // The server read the session before rendering; the page carries it to the browser.
    let first = SharedValue::new(session_of_this_page).into_inner();
    let session = RwSignal::new(first);
    fetch_after_changes(actions, session);
    provide_context(actions);
    provide_context(SessionState(session));
    crate::two_factor::fresh::provide_fresh_codes();
}

#[cfg(not(feature = "ssr"))]
fn session_of_this_page() -> Result<Option<SessionInfo>, AppError> {
    Ok(None)
}

/// In the browser: fetches the session again after anything that changes who is signed in
/// or their organizations. Only the newest answer is kept when fetches overlap.
fn fetch_after_changes(
    actions: AuthActions,
    session: RwSignal<Result<Option<SessionInfo>, AppError>>,
) {
    let newest = StoredValue::new(0_u64);
    Effect::new(move |ran_before: Option<()>| {
        actions.sign_in.version().track();
        actions.second_factor.version().track();
        actions.sign_up.version().track();
        actions.sign_out.version().track();
        actions.switch_org.version().track();
        actions.refresh.track();
        if ran_before.is_none() {
            return;
        }
        let this_fetch = newest.get_value() + 1;
        newest.set_value(this_fetch);
        leptos::task::spawn_local(async move {
            let fresh = current_session().await;
            if newest.get_value() == this_fetch {
                session.set(fresh);
            }
        });
    });
}

/// Renders the top bar and `children` with the session; pages read it from context.
///
/// No Suspense boundary here: the server has the session before the page renders, so the
/// page is built once. A boundary walks its children twice before it renders them, and
/// around the page that built every page three times per render, ran its queries three
/// times and sent its data three times (and once hydrated the browser with the first
/// build's data while the HTML was the last build's).
#[component]
pub fn WithSession(children: ChildrenFn) -> impl IntoView {
    let session = expect_context::<SessionState>().0;
    move || {
        let children = children.clone();
        let current = session.get();
        view! { <ProvideSession current children/> }
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
