//! Sign in and Sign up pages.

use crate::error::AppError;
use crate::layout::{AuthActions, SessionResource};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

/// A labelled input with its error message underneath (and linked for screen readers).
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=true
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=error_id.clone()
            />
            <p class="field-error" id=error_id aria-live="polite">{move || error.get()}</p>
        </div>
    }
}

type ActionValue = Option<Result<(), AppError>>;

fn field_error<V>(value: V, field: &'static str) -> Signal<Option<String>>
where
    V: Get<Value = ActionValue> + Send + Sync + 'static,
{
    Signal::derive(move || {
        value
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.for_field(field))
    })
}

fn general_error<V>(value: V) -> Signal<Option<String>>
where
    V: Get<Value = ActionValue> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()).and_then(|e| e.general()))
}

/// Sends a signed-in visitor of Sign in / Sign up home instead.
#[component]
fn RedirectIfSignedIn() -> impl IntoView {
    let session = expect_context::<SessionResource>().0;
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(session.await, Ok(Some(_))).then(|| view! { <Redirect path="/"/> })
            })}
        </Suspense>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_in;
    let general = general_error(action.value());
    view! {
        <Title text="Sign in"/>
        <RedirectIfSignedIn/>
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=action>
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
    let general = general_error(action.value());
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
