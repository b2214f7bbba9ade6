//! The profile panel **Manage your user API keys**.

use super::api::{get_api_keys, CreateApiKey, DismissKeyExpiryNotices, RevokeApiKey};
use super::model::{ApiKeyRow, ApiKeysView, CreatedKey, Expiry, KeyOrgChoice, Scope};
use crate::forms::{field_error, focus_when_shown, general_error, Field, FocusReturn};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn ApiKeysPanel() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    // Only a key actually created changes the list: a refused Create keeps the form, its
    // input and its error on screen.
    let created = RwSignal::new(0u32);
    let show_form = RwSignal::new(false);
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            created.update(|n| *n += 1);
            show_form.set(false);
        }
    });
    let revoked = NodeRef::<leptos::html::P>::new();
    focus_when_shown(revoked);
    // A revoked key may be the one the expiry banner is about.
    let notice = use_context::<KeyExpiryNotice>();
    Effect::new(move |_| {
        if let (Some(notice), Some(Ok(()))) = (notice, revoke.value().get()) {
            notice.refresh();
        }
    });
    let keys = Resource::new(
        move || (created.get(), revoke.version().get()),
        |_| get_api_keys(),
    );
    view! {
        <section class="card" id="api-keys" aria-labelledby="api-keys-title">
            <h2 id="api-keys-title">"Manage your user API keys"</h2>
            <p class="muted">"A key lets a script call the REST API as you, in one organization, with the scopes you choose and never more than your role allows there. Send it as " <code>"Authorization: Bearer gth_…"</code> "."</p>
            {move || match create.value().get() {
                Some(Ok(created)) => Some(view! { <NewKeyShown created/> }),
                _ => None,
            }}
            <p class="form-error" role="alert">{move || general_error(revoke.value(), &[]).get()}</p>
            // The Revoke button that had the focus is gone with the reloaded list: the focus
            // goes to what happened instead.
            {move || matches!(revoke.value().get(), Some(Ok(()))).then(|| view! {
                <p class="notice" role="status" tabindex="-1" node_ref=revoked>"API key revoked."</p>
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(v) => view! { <KeysAndForm v create revoke show_form/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The whole key, once.
#[component]
fn NewKeyShown(created: CreatedKey) -> impl IntoView {
    let copied = RwSignal::new(false);
    let key = created.key.clone();
    view! {
        <div class="notice" role="status" data-testid="new-api-key">
            <p><strong>{format!("Your new API key \"{}\"", created.row.name)}</strong></p>
            <p><code class="secret" data-testid="api-key-value">{created.key}</code></p>
            <p>"Copy it now: you will not see it again. Gatehouse keeps only a hash of it."</p>
            <button type="button" class="button secondary" on:click=move |_| {
                let _ = window().navigator().clipboard().write_text(&key);
                copied.set(true);
            }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
        </div>
    }
}

#[component]
fn KeysAndForm(
    v: ApiKeysView,
    create: ServerAction<CreateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    show_form: RwSignal<bool>,
) -> impl IntoView {
    let has_orgs = !v.orgs.is_empty();
    let orgs = v.orgs;
    view! {
        {has_orgs.then(|| view! {
            <button type="button" class="button" aria-expanded=move || show_form.get().to_string()
                on:click=move |_| show_form.update(|s| *s = !*s)>"New API key"</button>
        })}
        {move || show_form.get().then(|| view! { <NewKeyForm orgs=orgs.clone() create/> })}
        <KeysTable keys=v.keys revoke/>
    }
}

#[component]
fn NewKeyForm(orgs: Vec<KeyOrgChoice>, create: ServerAction<CreateApiKey>) -> impl IntoView {
    let org_id = RwSignal::new(orgs.first().map(|o| o.org_id).unwrap_or_default());
    let chosen = RwSignal::new(Vec::<Scope>::new());
    let expiry = RwSignal::new(Expiry::Days(30));
    let orgs = StoredValue::new(orgs);
    let offered = move || {
        orgs.with_value(|list| {
            list.iter()
                .find(|o| o.org_id == org_id.get())
                .map(|o| o.scopes.clone())
                .unwrap_or_default()
        })
    };
    // Only scopes offered for the chosen organization are sent.
    let scopes_value = move || {
        let offered = offered();
        chosen.with(|c| {
            c.iter()
                .filter(|s| offered.contains(s))
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let resources = ["org", "members", "groups", "scans", "billing", "audit"];
    view! {
        <section class="card inset" aria-labelledby="new-key-title">
            <h3 id="new-key-title">"New API key"</h3>
            <ActionForm action=create>
                <Field label="Name" name="name" id="api-key-name" autocomplete="off" error=field_error(create.value(), "name")/>
                <div class="field">
                    <label for="api-key-org">"Organization"</label>
                    <select id="api-key-org" name="org_id" on:change=move |ev| {
                        if let Ok(id) = event_target_value(&ev).parse::<i64>() {
                            org_id.set(id);
                        }
                    }>
                        {orgs.with_value(|list| list.iter().map(|o| view! {
                            <option value=o.org_id.to_string()>{o.org_name.clone()}</option>
                        }).collect_view())}
                    </select>
                </div>
                <fieldset>
                    <legend>"Scopes"</legend>
                    <input type="hidden" name="scopes" prop:value=scopes_value/>
                    {move || {
                        let offered = offered();
                        resources.into_iter().filter_map(|resource| {
                            let here: Vec<Scope> = offered.iter().copied().filter(|s| s.resource() == resource).collect();
                            (!here.is_empty()).then(|| view! {
                                <div class="scope-group" role="group" aria-label=resource>
                                    <span class="scope-resource">{resource}</span>
                                    {here.into_iter().map(|scope| view! {
                                        <label class="checkbox">
                                            <input type="checkbox"
                                                prop:checked=move || chosen.with(|c| c.contains(&scope))
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    chosen.update(|c| {
                                                        c.retain(|s| *s != scope);
                                                        if on { c.push(scope); }
                                                    });
                                                }/>
                                            " " {scope.as_str()}
                                        </label>
                                    }).collect_view()}
                                </div>
                            })
                        }).collect_view()
                    }}
                    <p class="hint">"Only scopes your role in this organization can use are offered."</p>
                    <p class="field-error" aria-live="polite">{move || field_error(create.value(), "scopes").get()}</p>
                </fieldset>
                <fieldset>
                    <legend>"Expiry"</legend>
                    <input type="hidden" name="expiry" prop:value=move || expiry.get().as_str()/>
                    {Expiry::CHOICES.into_iter().map(|choice| view! {
                        <label class="checkbox">
                            <input type="radio" name="expiry_choice" value=choice.as_str()
                                prop:checked=move || expiry.get() == choice
                                on:change=move |_| expiry.set(choice)/>
                            " " {choice.label()}
                        </label>
                    }).collect_view()}
                    {move || (expiry.get() == Expiry::Never).then(|| view! {
                        <p class="warning" role="note">"A key without expiry works until you revoke it. Prefer a key that expires, and make a new one when it does."</p>
                    })}
                    <p class="field-error" aria-live="polite">{move || field_error(create.value(), "expiry").get()}</p>
                </fieldset>
                <p class="form-error" role="alert">{move || general_error(create.value(), &["name", "scopes", "expiry"]).get()}</p>
                <button type="submit" class="button" disabled=move || create.pending().get()>"Create"</button>
            </ActionForm>
            <crate::auth::confirm_access::ConfirmAccessPrompt asked=crate::forms::asks_confirmation(create.value()) id="api-key-confirm"/>
        </section>
    }
}

#[component]
fn KeysTable(keys: Vec<ApiKeyRow>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    if keys.is_empty() {
        return view! { <p class="muted">"You have no API keys."</p> }.into_any();
    }
    // The key whose revocation is being confirmed; one at a time.
    let confirming = RwSignal::new(None::<i64>);
    let rows = keys
        .into_iter()
        .map(|k| {
            let scopes = k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            let active = k.state == "active";
            let ended = if k.state == "revoked" { "Revoked" } else { "Expired" };
            view! {
                <tr>
                    <td>{k.name.clone()}</td>
                    <td><code>{format!("{}…", k.prefix)}</code></td>
                    <td class="small">{scopes}</td>
                    <td>{k.org_name}</td>
                    <td>{k.created}</td>
                    <td>{k.last_used.unwrap_or_else(|| "Never".to_string())}</td>
                    <td>{k.expires.unwrap_or_else(|| "Never".to_string())}
                        {k.expires_in.map(|words| view! { <br/><span class="small muted">{format!("expires {words}")}</span> })}</td>
                    <td>{if active {
                        view! { <RevokeKey key_id=k.id name=k.name confirming revoke/> }.into_any()
                    } else {
                        view! { <span class="muted">{ended}</span> }.into_any()
                    }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table" aria-label="API keys">
            <thead><tr>
                <th scope="col">"Name"</th>
                <th scope="col">"Prefix"</th>
                <th scope="col">"Scopes"</th>
                <th scope="col">"Organization"</th>
                <th scope="col">"Created"</th>
                <th scope="col">"Last used"</th>
                <th scope="col">"Expires"</th>
                <th scope="col"><span class="visually-hidden">"Revoke"</span></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// **Revoke**, then a confirmation in its place (a script using the key is refused from the
/// next call on, and that cannot be undone). Focus moves to the confirmation and, when it is
/// cancelled, back to Revoke.
#[component]
fn RevokeKey(
    key_id: i64,
    name: String,
    confirming: RwSignal<Option<i64>>,
    revoke: ServerAction<RevokeApiKey>,
) -> impl IntoView {
    let open_button = NodeRef::<leptos::html::Button>::new();
    let confirm_button = NodeRef::<leptos::html::Button>::new();
    focus_when_shown(confirm_button);
    let back_to_revoke = FocusReturn::new(open_button);
    let label = format!("Revoke {name}");
    let question_id = format!("revoke-{key_id}-question");
    let question = format!("Revoke {name}? Scripts using it are refused from their next call.");
    view! {
        {move || if confirming.get() == Some(key_id) {
            view! {
                <div class="confirm" role="alertdialog" aria-labelledby=question_id.clone()>
                    <p id=question_id.clone() class="small">{question.clone()}</p>
                    <button type="button" class="button small danger" node_ref=confirm_button
                        on:click=move |_| {
                            confirming.set(None);
                            revoke.dispatch(RevokeApiKey { key_id });
                        }>"Revoke key"</button>
                    " "
                    <button type="button" class="button small secondary" on:click=move |_| {
                        back_to_revoke.request();
                        confirming.set(None);
                    }>"Cancel"</button>
                </div>
            }.into_any()
        } else {
            view! {
                <button type="button" class="button small danger" aria-label=label.clone() node_ref=open_button
                    on:click=move |_| confirming.set(Some(key_id))>"Revoke"</button>
            }.into_any()
        }}
    }
}

/// What the expiry banner says, kept apart from the session: dismissing the banner or revoking
/// a key changes it without rebuilding the page underneath (a refreshed session would, and
/// take the focus and any half-filled form with it).
#[derive(Clone, Copy)]
pub struct KeyExpiryNotice(RwSignal<Option<String>>);

impl KeyExpiryNotice {
    /// Provided by the app shell for the signed-in pages, from the session's `key_expiry`.
    pub fn provide(expires_in: Option<String>) -> Self {
        let notice = Self(RwSignal::new(expires_in));
        provide_context(notice);
        notice
    }

    /// Asks the server again, after a key was revoked.
    pub fn refresh(self) {
        leptos::task::spawn_local(async move {
            if let Ok(Some(session)) = crate::auth::api::current_session().await {
                self.0.set(session.key_expiry);
            }
        });
    }
}

/// The notice at the top of every page while one of the user's keys is about to expire (the
/// warnings 7 days and 1 day before), until they dismiss it.
#[component]
pub fn KeyExpiryBanner(notice: KeyExpiryNotice) -> impl IntoView {
    let dismiss = ServerAction::<DismissKeyExpiryNotices>::new();
    Effect::new(move |_| {
        if matches!(dismiss.value().get(), Some(Ok(_))) {
            notice.0.set(None);
        }
    });
    move || {
        notice.0.get().map(|expires_in| view! {
            <div class="banner" role="status" data-testid="key-expiry-banner">
                {format!("An API key of yours expires {expires_in}; scripts that use it will then be refused. ")}
                <A href="/profile#api-keys">"Review your API keys"</A>
                " "
                <ActionForm action=dismiss attr:class="inline">
                    <button type="submit" class="button small secondary">"Dismiss"</button>
                </ActionForm>
            </div>
        })
    }
}
