//! The signed-in session as components see it: the actions that change who is signed in, and
//! the session of the current render. Below every view that reads or changes the session;
//! the shell (`layout`) provides both.

use crate::auth::api::{SignIn, SignOut, SignUp, SwitchOrg};
use crate::auth::model::SessionInfo;
use crate::error::AppError;
use crate::two_factor::api::SignInSecondFactor;
use leptos::prelude::*;

/// The mutations that change who is signed in; the shell fetches the session again after each.
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

/// The session the shell renders with: read on the server before the page renders, carried
/// to the browser with the page, and fetched again there after each change (`layout`).
#[derive(Clone, Copy)]
pub struct SessionState(pub RwSignal<Result<Option<SessionInfo>, AppError>>);

/// The session as this render sees it: read from [`SessionState`] once, in [`WithSession`].
#[derive(Clone)]
pub struct CurrentSession(pub Result<Option<SessionInfo>, AppError>);

/// The current session, or "signed out" outside [`WithSession`].
pub fn session_now() -> Result<Option<SessionInfo>, AppError> {
    use_context::<CurrentSession>()
        .map(|c| c.0)
        .unwrap_or(Ok(None))
}
