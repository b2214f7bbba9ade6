//! **Confirm access** ("sudo mode"): the prompt a sensitive form shows when the server asks
//! for it. Below every panel that has such a form.

use crate::auth::api::ConfirmAccess;
use crate::forms::{field_error, focus_when_shown, general_error, Field};
use leptos::prelude::*;

/// **Confirm access**, shown under a sensitive form when the server asked for it: the
/// password, and a code when 2FA is on. Once confirmed, the person submits the form again.
/// `id` tells this prompt's fields apart from another prompt's on the same page.
#[component]
pub fn ConfirmAccessPrompt(
    #[prop(into)] asked: Signal<Option<crate::forms::Ask>>,
    id: &'static str,
) -> impl IntoView {
    let confirm = ServerAction::<ConfirmAccess>::new();
    let two_factor = crate::session_context::session_now()
        .ok()
        .flatten()
        .is_some_and(|s| s.authenticator_app);
    // A Memo: a refused attempt keeps the form (and the focus) where it is.
    let confirmed = Memo::new(move |_| matches!(confirm.value().get(), Some(Ok(()))));
    let title_id = format!("{id}-title");
    // The prompt takes keyboard focus on its password field; once confirmed, on the note that
    // says so, one Shift+Tab from the submit button of the form it belongs under.
    let password = NodeRef::<leptos::html::Input>::new();
    let done = NodeRef::<leptos::html::P>::new();
    focus_when_shown(password);
    focus_when_shown(done);
    view! {
        <Show when=move || asked.get().is_some()>
            <div class="confirm-access" role="group" aria-labelledby=title_id.clone()>
                <h4 id=title_id.clone()>"Confirm access"</h4>
                {move || if let Some(crate::forms::Ask::StepUp { security_key }) = asked.get() {
                    view! {
                        <p class="muted">"This changes your account, and this session was not signed in with your own second factor. Confirm it is you with it, then submit the form above again."</p>
                        <crate::two_factor::step_up::views::StepUpPrompt security_key id=id/>
                    }.into_any()
                } else if confirmed.get() {
                    view! { <p class="notice" role="status" tabindex="-1" node_ref=done>"Confirmed. Submit the form above again to continue."</p> }.into_any()
                } else {
                    view! {
                        <p class="muted">
                            "This is a sensitive action. Enter your password"
                            {two_factor.then_some(" and a code from your authenticator app")}
                            " to continue. Gatehouse asks again after a few minutes."
                        </p>
                        <ActionForm action=confirm>
                            <Field label="Password" name="password" id=format!("{id}-password") kind="password" autocomplete="current-password" error=field_error(confirm.value(), "password") node_ref=password/>
                            {two_factor.then(|| view! {
                                <Field label="Authentication code" name="code" id=format!("{id}-code") autocomplete="one-time-code" inputmode="numeric" error=field_error(confirm.value(), "code")/>
                            })}
                            <p class="form-error" role="alert">{move || general_error(confirm.value(), &["password", "code"]).get()}</p>
                            <button type="submit" class="button" disabled=move || confirm.pending().get()>"Confirm access"</button>
                        </ActionForm>
                    }.into_any()
                }}
            </div>
        </Show>
    }
}
