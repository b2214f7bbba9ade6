//! The step-up in the interface: in place of an organization's page when the session falls
//! short of it, and under a sensitive form when a change to the account asks for it.

use super::api::{start_step_up_passkey, step_up_with_passkey, StepUpWithCode};
use crate::error::AppError;
use crate::forms::{field_error, focus_when_shown, general_error, Field};
use crate::session_context::AuthActions;
use crate::two_factor::passkeys::browser;
use leptos::prelude::*;

async fn touch() -> Result<(), AppError> {
    let options = start_step_up_passkey().await?;
    let assertion = browser::get(options)
        .await
        .map_err(|message| AppError::invalid("passkey", message))?;
    step_up_with_passkey(assertion).await
}

/// The page an organization's pages show while this session must step up for it.
#[component]
pub fn StepUpPage(org_name: String, security_key: bool) -> impl IntoView {
    let why = if security_key {
        format!("{org_name} accepts security keys and passkeys only, and this session was signed in with another second factor. Confirm it is you with a touch of your security key or passkey.")
    } else {
        format!("This session was not signed in with a second factor that counts in {org_name} (a single sign-on through another organization's identity provider counts only there). Confirm it is you with your second factor.")
    };
    view! {
        <section class="card narrow" role="alert" data-testid="step-up">
            <h1>"Confirm it is you"</h1>
            <p>{why}</p>
            <StepUpPrompt security_key id="step-up-page"/>
        </section>
    }
}

/// The ways to step up the signed-in person has: a touch of a key (offered first), and the
/// app's code or a recovery code unless only a key will do. Refreshes the session when done.
#[component]
pub fn StepUpPrompt(security_key: bool, id: &'static str) -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let info = crate::session_context::session_now().ok().flatten();
    let passkeys = info.as_ref().is_some_and(|s| s.passkeys);
    let app = info.as_ref().is_some_and(|s| s.authenticator_app);
    let code = ServerAction::<StepUpWithCode>::new();
    let key = Action::new_local(|_: &()| touch());
    let done = Memo::new(move |_| {
        matches!(code.value().get(), Some(Ok(()))) || matches!(key.value().get(), Some(Ok(())))
    });
    Effect::new(move |_| {
        if done.get() {
            auth.refresh_session();
        }
    });
    let first = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(first);
    let code_field = NodeRef::<leptos::html::Input>::new();
    view! {
        <div class="step-up" role="group" aria-label="Confirm it is you">
            {move || done.get().then(|| view! { <p class="notice" role="status">"Confirmed. Continue with what you were doing."</p> })}
            {(passkeys).then(|| view! {
                <button type="button" class="button" node_ref=first
                    disabled=move || key.pending().get()
                    on:click=move |_| { key.dispatch(()); }>
                    {move || if key.pending().get() { "Waiting for your security key…" } else { "Use your security key or passkey" }}
                </button>
                <p class="field-error" role="alert">{move || field_error(key.value(), "passkey").get()}</p>
                <p class="form-error" role="alert">{move || general_error(key.value(), &["passkey"]).get()}</p>
            })}
            {(!security_key).then(|| view! {
                <ActionForm action=code>
                    <input type="hidden" name="security_key" value="false"/>
                    <Field label=if app { "Authentication code or recovery code" } else { "Recovery code" } name="code" id=format!("{id}-code") autocomplete="one-time-code" error=field_error(code.value(), "code") node_ref=code_field/>
                    <p class="form-error" role="alert">{move || general_error(code.value(), &["code"]).get()}</p>
                    <button type="submit" class="button secondary" disabled=move || code.pending().get()>"Confirm"</button>
                </ActionForm>
            })}
            {(security_key && !passkeys).then(|| view! {
                <p class="muted">"Add a security key or passkey in your profile first."</p>
            })}
        </div>
    }
}
