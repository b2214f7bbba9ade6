//! The app shell: the signed-in session as a shared resource, the top bar, and the guard
//! that sends signed-out visitors to Sign in.

use crate::api_keys::views::{KeyExpiryBanner, KeyExpiryNotice};
use crate::auth::api::{current_session, SignIn, SignOut, SignUp, SwitchOrg};
use crate::auth::model::SessionInfo;
use crate::error::AppError;
use crate::policy::{allows, Action};
use crate::two_factor::api::SignInSecondFactor;
use crate::two_factor::model::Compliance;
use crate::two_factor::views::{TwoFactorBanner, TwoFactorRequiredPage};
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

/// The mutations that change who is signed in; the session resource refetches after each.
#[derive(Clone, Copy)]
pub struct AuthActions {
    pub sign_in: ServerAction<SignIn>,
    /// The second step of sign-in, for accounts with 2FA.
    pub second_factor: ServerAction<SignInSecondFactor>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
    pub switch_org: ServerAction<SwitchOrg>,
    /// Bumped by anything else that changes the user's organizations (leaving one,
    /// accepting an invitation, deleting one).
    pub refresh: RwSignal<usize>,
}

impl AuthActions {
    pub fn refresh_session(&self) {
        self.refresh.update(|v| *v += 1);
    }
}

/// Refetches the session once `done` becomes true: for actions that change the user's
/// organizations (leaving one, accepting an invitation, renaming or deleting one).
pub fn refresh_session_when(done: impl Fn() -> bool + Send + Sync + 'static) {
    let auth = expect_context::<AuthActions>();
    Effect::new(move |_| {
        if done() {
            auth.refresh_session();
        }
    });
}

#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<Option<SessionInfo>, AppError>>);

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
    crate::two_factor::views::provide_fresh_codes();
}

/// The session as this render sees it: read from the resource once, in [`WithSession`].
#[derive(Clone)]
pub struct CurrentSession(pub Result<Option<SessionInfo>, AppError>);

/// The current session, or "signed out" outside [`WithSession`].
pub fn session_now() -> Result<Option<SessionInfo>, AppError> {
    use_context::<CurrentSession>()
        .map(|c| c.0)
        .unwrap_or(Ok(None))
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
