//! Sign in and Sign up pages.

use crate::forms::{field_error, general_error, Field};
use crate::layout::AuthActions;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

/// Sends a signed-in visitor of Sign in / Sign up home instead.
#[component]
fn RedirectIfSignedIn() -> impl IntoView {
    matches!(crate::layout::session_now(), Ok(Some(_))).then(|| view! { <Redirect path="/"/> })
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_in;
    const FIELDS: &[&str] = &["email", "password"];
    let general = general_error(action.value(), FIELDS);
    let next = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("next"))
        .unwrap_or_default();
    view! {
        <Title text="Sign in"/>
        <RedirectIfSignedIn/>
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=action>
                <input type="hidden" name="next" value=next/>
                <Field label="Email" name="email" kind="email" autocomplete="username" error=field_error(action.value(), "email")/>
                <Field label="Password" name="password" kind="password" autocomplete="current-password" error=field_error(action.value(), "password")/>
                <p class="form-error" role="alert">{general}</p>
                <button type="submit" class="button" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <p class="muted">"New to Gatehouse? " <A href="/signup">"Create an organization"</A></p>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_up;
    const FIELDS: &[&str] = &["name", "email", "password", "organization"];
    let general = general_error(action.value(), FIELDS);
    view! {
        <Title text="Sign up"/>
        <RedirectIfSignedIn/>
        <section class="card narrow">
            <h1>"Sign up"</h1>
            <p class="muted">"Create your account and a new organization, of which you become the Owner."</p>
            <ActionForm action=action>
                <Field label="Name" name="name" autocomplete="name" error=field_error(action.value(), "name")/>
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field_error(action.value(), "email")/>
                <Field label="Password" name="password" kind="password" autocomplete="new-password" error=field_error(action.value(), "password")/>
                <p class="hint">"At least 8 characters. A long passphrase is best."</p>
                <Field label="Organization name" name="organization" autocomplete="organization" error=field_error(action.value(), "organization")/>
                <p class="form-error" role="alert">{general}</p>
                <button type="submit" class="button" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing up…" } else { "Sign up" }}
                </button>
            </ActionForm>
            <p class="muted">"Already have an account? " <A href="/signin">"Sign in"</A></p>
        </section>
    }
}
