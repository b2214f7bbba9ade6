//! What the profile's two-factor panels just did, kept above the page (the shell provides it):
//! refreshing the session re-renders the page, and this must outlive that.

use leptos::prelude::*;

/// Recovery codes just made, kept above the page so that refreshing the session (which
/// re-renders the page) does not lose them before the user has saved them.
#[derive(Clone, Copy)]
pub struct FreshRecoveryCodes(pub RwSignal<Option<Vec<String>>>);

/// What the last change to the person's security keys and passkeys did ("YubiKey added."),
/// kept above the page for the same reason.
#[derive(Clone, Copy)]
pub struct PasskeyNews(pub RwSignal<Option<String>>);

pub fn provide_fresh_codes() {
    provide_context(FreshRecoveryCodes(RwSignal::new(None)));
    provide_context(PasskeyNews(RwSignal::new(None)));
}
