//! Sign in and Sign up pages.

use crate::auth::api::{ChangeName, ChangePassword};
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::forms::{field_error, general_error, Field};
use crate::session_context::AuthActions;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

/// Sends a signed-in visitor of Sign in / Sign up home instead.
#[component]
fn RedirectIfSignedIn() -> impl IntoView {
    matches!(crate::session_context::session_now(), Ok(Some(_)))
        .then(|| view! { <Redirect path="/"/> })
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_in;
    const FIELDS: &[&str] = &["email", "password"];
    let general = general_error(action.value(), FIELDS);
    let query = leptos_router::hooks::use_query_map();
    let next = query.with_untracked(|q| q.get("next")).unwrap_or_default();
    let sso_error = query.with_untracked(|q| q.get("sso_error"));
    view! {
        <Title text="Sign in"/>
        <RedirectIfSignedIn/>
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <crate::sso::views::SsoSignIn next=next.clone() error=sso_error/>
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

/// **Change password** on the profile page.
#[component]
pub fn ChangePasswordPanel() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    const FIELDS: &[&str] = &["current_password", "new_password"];
    view! {
        <section class="card" aria-labelledby="password-title">
            <h2 id="password-title">"Password"</h2>
            <ActionForm action=change>
                <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" error=field_error(change.value(), "current_password")/>
                <Field label="New password" name="new_password" kind="password" autocomplete="new-password" error=field_error(change.value(), "new_password")/>
                <p class="hint">"At least 8 characters. Your other sessions are signed out."</p>
                <p class="form-error" role="alert">{move || general_error(change.value(), FIELDS).get()}</p>
                {move || matches!(change.value().get(), Some(Ok(()))).then(|| view! {
                    <p class="notice" role="status">"Password changed. Your other sessions were signed out."</p>
                })}
                <button type="submit" class="button secondary" disabled=move || change.pending().get()>"Change password"</button>
            </ActionForm>
            <ConfirmAccessPrompt asked=crate::forms::asks_confirmation(change.value()) id="password-confirm"/>
        </section>
    }
}

/// **Your account** on the profile page: the name can be changed, the email is shown.
#[component]
pub fn AccountPanel(name: String, email: String) -> impl IntoView {
    let change = ServerAction::<ChangeName>::new();
    crate::session_context::refresh_session_when(move || {
        matches!(change.value().get(), Some(Ok(())))
    });
    view! {
        <section class="card" aria-labelledby="profile-panel">
            <h2 id="profile-panel">"Your account"</h2>
            <ActionForm action=change>
                <Field label="Name" name="name" autocomplete="name" value=name error=field_error(change.value(), "name")/>
                <p class="form-error" role="alert">{move || general_error(change.value(), &["name"]).get()}</p>
                <button type="submit" class="button secondary" disabled=move || change.pending().get()>"Save name"</button>
            </ActionForm>
            <dl class="facts">
                <dt>"Email"</dt><dd>{email}</dd>
            </dl>
        </section>
    }
}
