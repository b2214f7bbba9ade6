//! Security keys and passkeys in the interface: the list on the profile page with **Add a
//! security key or passkey**, Rename and Remove, and **Use your security key or passkey** at
//! the second step of sign-in.

use super::api::{
    finish_passkey_registration, remove_passkey, second_step_methods, sign_in_with_passkey,
    start_passkey_registration, start_passkey_sign_in, start_passkey_verification, RemovePasskey,
    RenamePasskey,
};
use super::browser;
use super::model::PasskeyEntry;
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::domain::PasskeyName;
use crate::error::AppError;
use crate::forms::{asks_confirmation, field_error, focus_when_shown, general_error, Field};
use crate::session_context::AuthActions;
use crate::two_factor::fresh::FreshRecoveryCodes;
use crate::two_factor::model::RecoveryCodes;
use leptos::prelude::*;

/// Registers a security key or passkey: the server's options, the browser's ceremony, the
/// server's check. Runs in the browser only (the ceremony's future is not `Send`).
async fn register(name: String) -> Result<Option<RecoveryCodes>, AppError> {
    let options = start_passkey_registration(name.clone()).await?;
    let credential = browser::create(options)
        .await
        .map_err(|message| AppError::invalid("passkey", message))?;
    finish_passkey_registration(name, credential).await
}

/// "Security keys and passkeys" in the profile's two-factor panel. `changed` is bumped after
/// every change, so that the panel reads the status again.
#[component]
pub fn PasskeysSection(
    list: Vec<PasskeyEntry>,
    unavailable: Option<String>,
    /// An authenticator app is set up too (then no passkey is the last second factor).
    app: bool,
    changed: RwSignal<u32>,
    /// Where to say what changed ("YubiKey added."), outside what the change re-renders.
    news: RwSignal<Option<String>>,
) -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let fresh = expect_context::<FreshRecoveryCodes>().0;
    let name = RwSignal::new(String::new());
    let add = Action::new_local(|name: &String| register(name.clone()));
    Effect::new(move |_| {
        if let Some(Ok(codes)) = add.value().get() {
            news.set(Some(format!("{} added.", name.get_untracked().trim())));
            name.set(String::new());
            if let Some(codes) = codes {
                // The first second factor: 2FA is on, and the recovery codes are shown once.
                fresh.set(Some(codes.codes));
                auth.refresh_session();
            }
            changed.update(|n| *n += 1);
        }
    });
    let last = list.len() == 1 && !app;
    let rows = list
        .into_iter()
        .map(|p| view! { <PasskeyRow passkey=p last changed news/> })
        .collect_view();
    view! {
        <h3>"Security keys and passkeys"</h3>
        <p class="muted">"A security key (YubiKey, Titan…) or a passkey (Touch ID, Windows Hello, your phone) signs in with a touch, and cannot be phished: your browser uses it only on this site."</p>
        <table class="table" aria-label="Security keys and passkeys" data-testid="passkeys">
            <thead><tr>
                <th scope="col">"Name"</th>
                <th scope="col">"Added"</th>
                <th scope="col">"Last used"</th>
                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {match unavailable {
            Some(why) => view! { <p class="notice warn" data-testid="passkeys-unavailable">{why}</p> }.into_any(),
            None => view! {
                <form class="inline-form" on:submit=move |ev| {
                    ev.prevent_default();
                    news.set(None);
                    add.dispatch(name.get_untracked());
                }>
                    <div class="field">
                        <label for="passkey-name">"Name"</label>
                        <input id="passkey-name" name="name" type="text" maxlength=PasskeyName::MAX.to_string()
                            placeholder="YubiKey 5C" autocomplete="off" required
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))
                            aria-invalid=move || field_error(add.value(), "name").get().is_some().to_string()
                            aria-describedby="passkey-name-error"/>
                        <p class="field-error" id="passkey-name-error" aria-live="polite">{move || field_error(add.value(), "name").get()}</p>
                    </div>
                    <p class="form-error" role="alert">{move || general_error(add.value(), &["name"]).get()}</p>
                    <button type="submit" class="button" disabled=move || add.pending().get()>
                        {move || if add.pending().get() { "Waiting for your security key…" } else { "Add a security key or passkey" }}
                    </button>
                </form>
                <ConfirmAccessPrompt asked=asks_confirmation(add.value()) id="passkey-confirm"/>
            }.into_any(),
        }}
    }
}

#[component]
fn PasskeyRow(
    passkey: PasskeyEntry,
    last: bool,
    changed: RwSignal<u32>,
    news: RwSignal<Option<String>>,
) -> impl IntoView {
    let auth = expect_context::<AuthActions>();
    let rename = ServerAction::<RenamePasskey>::new();
    let remove = ServerAction::<RemovePasskey>::new();
    let id = passkey.id;
    // The last second factor: the password and a touch of the key itself.
    let remove_last = Action::new_local(move |password: &String| {
        let password = password.clone();
        async move {
            let options = start_passkey_verification().await?;
            let assertion = browser::get(options)
                .await
                .map_err(|message| AppError::invalid("passkey", message))?;
            remove_passkey(id, password, Some(assertion)).await
        }
    });
    let last_password = RwSignal::new(String::new());
    let mode = RwSignal::new(RowMode::Shown);
    let removed_name = passkey.name.clone();
    Effect::new(move |_| {
        if matches!(rename.value().get(), Some(Ok(()))) {
            news.set(Some("Renamed.".to_string()));
            mode.set(RowMode::Shown);
            changed.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        let removed = matches!(remove.value().get(), Some(Ok(())))
            || matches!(remove_last.value().get(), Some(Ok(())));
        if removed {
            news.set(Some(format!("{removed_name} removed.")));
            changed.update(|n| *n += 1);
            // Removing the last factor turns 2FA off.
            auth.refresh_session();
        }
    });
    let name = passkey.name.clone();
    let name_input = NodeRef::<leptos::html::Input>::new();
    let password_input = NodeRef::<leptos::html::Input>::new();
    focus_when_shown(name_input);
    focus_when_shown(password_input);
    let rename_label = format!("Rename {name}");
    let remove_label = format!("Remove {name}");
    let remove_title = format!("passkey-{id}-remove");
    let remove_question = format!("Remove {name}? It will no longer sign you in.");
    view! {
        <tr>
            <td>{passkey.name.clone()}</td>
            <td>{passkey.added}</td>
            <td>{passkey.last_used.unwrap_or_else(|| "Never".to_string())}</td>
            <td>
                <button type="button" class="button small secondary" aria-label=rename_label
                    on:click=move |_| mode.set(RowMode::Renaming)>"Rename"</button>
                " "
                <button type="button" class="button small danger" aria-label=remove_label
                    on:click=move |_| mode.set(RowMode::Removing)>"Remove"</button>
            </td>
        </tr>
        {move || match mode.get() {
            RowMode::Shown => None,
            RowMode::Renaming => Some({
                let name = name.clone();
                view! {
                <tr><td colspan="4">
                    <ActionForm action=rename attr:class="inline-form">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <Field label="New name" name="name" id=format!("passkey-{id}-name") value=name.clone() error=field_error(rename.value(), "name") node_ref=name_input/>
                        <p class="form-error" role="alert">{move || general_error(rename.value(), &["name"]).get()}</p>
                        <button type="submit" class="button small">"Save"</button>
                        " "
                        <button type="button" class="button small secondary" on:click=move |_| mode.set(RowMode::Shown)>"Cancel"</button>
                    </ActionForm>
                </td></tr>
            }.into_any()}),
            RowMode::Removing => Some({
                let (remove_title, remove_question) = (remove_title.clone(), remove_question.clone());
                view! {
                <tr><td colspan="4">
                    <div class="confirm" role="alertdialog" aria-labelledby=remove_title.clone()>
                        <p id=remove_title.clone()><strong>{remove_question.clone()}</strong></p>
                        {if last { view! {
                            <p class="muted">"It is your last second factor: removing it turns two-factor authentication off and signs out your other sessions. Confirm with your password and a touch of it."</p>
                            <form on:submit=move |ev| {
                                ev.prevent_default();
                                remove_last.dispatch(last_password.get_untracked());
                            }>
                                <div class="field">
                                    <label for=format!("passkey-{id}-password")>"Password"</label>
                                    <input id=format!("passkey-{id}-password") name="password" type="password" autocomplete="current-password" required
                                        node_ref=password_input prop:value=move || last_password.get()
                                        on:input=move |ev| last_password.set(event_target_value(&ev))
                                        aria-invalid=move || field_error(remove_last.value(), "password").get().is_some().to_string()
                                        aria-describedby=format!("passkey-{id}-password-error")/>
                                    <p class="field-error" id=format!("passkey-{id}-password-error") aria-live="polite">{move || field_error(remove_last.value(), "password").get()}</p>
                                </div>
                                <p class="form-error" role="alert">{move || general_error(remove_last.value(), &["password"]).get()}</p>
                                <button type="submit" class="button small danger" disabled=move || remove_last.pending().get()>"Remove"</button>
                                " "
                                <button type="button" class="button small secondary" on:click=move |_| mode.set(RowMode::Shown)>"Cancel"</button>
                            </form>
                            <ConfirmAccessPrompt asked=asks_confirmation(remove_last.value()) id="passkey-remove-confirm"/>
                        }.into_any() } else { view! {
                            <ActionForm action=remove>
                                <input type="hidden" name="id" value=id.to_string()/>
                                <Field label="Password" name="password" id=format!("passkey-{id}-password") kind="password" autocomplete="current-password" error=field_error(remove.value(), "password") node_ref=password_input/>
                                <p class="form-error" role="alert">{move || general_error(remove.value(), &["password"]).get()}</p>
                                <button type="submit" class="button small danger">"Remove"</button>
                                " "
                                <button type="button" class="button small secondary" on:click=move |_| mode.set(RowMode::Shown)>"Cancel"</button>
                            </ActionForm>
                            <ConfirmAccessPrompt asked=asks_confirmation(remove.value()) id="passkey-remove-confirm"/>
                        }.into_any() }}
                    </div>
                </td></tr>
            }.into_any()}),
        }}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowMode {
    Shown,
    Renaming,
    Removing,
}

/// Signs in with a security key or passkey, then goes where the sign-in was headed (a full
/// load, so the new session's pages come from the server).
async fn use_passkey() -> Result<(), AppError> {
    let options = start_passkey_sign_in().await?;
    let credential = browser::get(options)
        .await
        .map_err(|message| AppError::invalid("passkey", message))?;
    let next = sign_in_with_passkey(credential).await?;
    let _ = window().location().set_href(&next);
    Ok(())
}

/// **Use your security key or passkey** at the second step of sign-in, when the person has
/// one; the code form follows it as the alternative.
#[component]
pub fn PasskeySignIn() -> impl IntoView {
    let methods = Resource::new(|| (), |_| second_step_methods());
    let sign_in = Action::new_local(|_: &()| use_passkey());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match methods.await {
                    Ok(m) if m.passkey => match m.passkey_unavailable {
                        Some(why) => view! { <p class="notice warn" data-testid="passkeys-unavailable">{why}</p> }.into_any(),
                        None => view! {
                            <div class="passkey-sign-in">
                                <button type="button" class="button" data-testid="use-passkey"
                                    disabled=move || sign_in.pending().get()
                                    on:click=move |_| { sign_in.dispatch(()); }>
                                    {move || if sign_in.pending().get() { "Waiting for your security key…" } else { "Use your security key or passkey" }}
                                </button>
                                <p class="form-error" role="alert">{move || general_error(sign_in.value(), &[]).get()}</p>
                                <p class="muted">{if m.app { "Or enter a code from your authenticator app, or a recovery code:" } else { "Or enter one of your recovery codes:" }}</p>
                            </div>
                        }.into_any(),
                    },
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}
