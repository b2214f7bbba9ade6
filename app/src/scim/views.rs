//! The **Provisioning** panel of Organization settings (Owner).

use super::api::{provisioning, CreateScimToken, RevokeScimToken, SetScimDefaultRole};
use super::model::{ProvisioningView, ScimTokenRow};
use crate::auth::confirm_access::ConfirmAccessPrompt;
use crate::domain::Role;
use crate::forms::{asks_confirmation, field_error, general_error, Field};
use crate::words::counted;
use leptos::prelude::*;

#[component]
pub fn ProvisioningPanel(org_id: i64) -> impl IntoView {
    let create = ServerAction::<CreateScimToken>::new();
    let revoke = ServerAction::<RevokeScimToken>::new();
    let set_role = ServerAction::<SetScimDefaultRole>::new();
    let view_data = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                set_role.version().get(),
            )
        },
        move |_| provisioning(org_id),
    );
    let asked = Signal::derive(move || {
        asks_confirmation(create.value())
            .get()
            .or(asks_confirmation(revoke.value()).get())
            .or(asks_confirmation(set_role.value()).get())
    });
    let new_token = move || match create.value().get() {
        Some(Ok(token)) => Some(view! {
            <div class="notice success" role="status" data-testid="scim-new-token">
                <p>"Copy the token for " <strong>{token.name.clone()}</strong> " now: it is not shown again."</p>
                <code class="secret">{token.token.clone()}</code>
            </div>
        }),
        _ => None,
    };
    view! {
        <section class="card" id="provisioning" aria-labelledby="provisioning-title">
            <h2 id="provisioning-title">"Provisioning"</h2>
            <p class="muted">
                "Your identity provider adds, suspends and removes this organization's members and manages groups with SCIM 2.0. "
                "People are provisioned in this organization's verified domains; a suspended member's sessions and API keys stop at once. "
                "Groups made by provisioning follow the provider: their name and members are read-only here."
            </p>
            {new_token}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(data) => view! { <ProvisioningState org_id data revoke set_role/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <p class="form-error" role="alert">{move || general_error(revoke.value(), &[]).get()}</p>
            <ActionForm action=create>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field label="Token name" name="name" id="scim-token-name" autocomplete="off" error=field_error(create.value(), "name")/>
                <p class="form-error" role="alert">{move || general_error(create.value(), &["name"]).get()}</p>
                <button type="submit" class="button" disabled=move || create.pending().get()>"Create token"</button>
            </ActionForm>
            <ConfirmAccessPrompt asked id="provisioning-confirm"/>
        </section>
    }
}

#[component]
fn ProvisioningState(
    org_id: i64,
    data: ProvisioningView,
    revoke: ServerAction<RevokeScimToken>,
    set_role: ServerAction<SetScimDefaultRole>,
) -> impl IntoView {
    let on = !data.tokens.is_empty();
    let summary = if on {
        format!(
            "On: {}, {} suspended, {} managed by provisioning.",
            counted(
                data.provisioned_users,
                "member provisioned",
                "members provisioned"
            ),
            data.suspended_users,
            counted(data.provisioned_groups, "group", "groups"),
        )
    } else {
        "Off: create a token to turn it on.".to_string()
    };
    let default_role = data.default_role;
    let rows = data
        .tokens
        .into_iter()
        .map(|token| view! { <TokenRow org_id token revoke/> })
        .collect_view();
    let recent = data
        .recent
        .into_iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{p.name}</td>
                    <td>{p.email}</td>
                    <td>{if p.suspended { "Suspended" } else { "Active" }}</td>
                    <td class="small">{p.changed}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let errors = data
        .errors
        .into_iter()
        .map(|e| {
            view! {
                <li><span class="small">{e.at}</span> " " <code>{e.request}</code> " " {e.status} ": " {e.detail}</li>
            }
        })
        .collect_view();
    view! {
        <p data-testid="provisioning-status"><strong>{summary}</strong></p>
        <p>"SCIM base URL: " <code data-testid="scim-base-url">{data.base_url}</code></p>
        {on.then(|| view! {
            <table class="table" aria-label="SCIM tokens" data-testid="scim-tokens">
                <thead><tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Token"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        })}
        <ActionForm action=set_role>
            <input type="hidden" name="org_id" value=org_id.to_string()/>
            <div class="field">
                <label for="scim-default-role">"Role of people provisioned without one"</label>
                <select id="scim-default-role" name="role">
                    {Role::ALL.into_iter().filter(|r| *r != Role::Owner).map(|r| view! {
                        <option value=r.as_str() selected=r == default_role>{r.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <p class="form-error" role="alert">{move || general_error(set_role.value(), &[]).get()}</p>
            <button type="submit" class="button secondary">"Save role"</button>
        </ActionForm>
        <h3 id="provisioned-title">"Recently provisioned"</h3>
        {if recent.is_empty() {
            view! { <p class="muted">"No one yet."</p> }.into_any()
        } else {
            view! {
                <table class="table" aria-labelledby="provisioned-title" data-testid="scim-recent">
                    <thead><tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Changed"</th>
                    </tr></thead>
                    <tbody>{recent}</tbody>
                </table>
            }.into_any()
        }}
        <h3>"Last errors"</h3>
        {if errors.is_empty() {
            view! { <p class="muted" data-testid="scim-errors-empty">"None."</p> }.into_any()
        } else {
            view! { <ul class="small" data-testid="scim-errors">{errors}</ul> }.into_any()
        }}
    }
}

#[component]
fn TokenRow(
    org_id: i64,
    token: ScimTokenRow,
    revoke: ServerAction<RevokeScimToken>,
) -> impl IntoView {
    view! {
        <tr>
            <td>{token.name.clone()}</td>
            <td><code>{format!("{}…", token.prefix)}</code></td>
            <td class="small">{token.created_at.clone()} {token.created_by.map(|by| format!(" by {by}"))}</td>
            <td class="small">{token.last_used.unwrap_or_else(|| "Never".to_string())}</td>
            <td class="actions">
                <ActionForm action=revoke attr:class="inline">
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="token_id" value=token.id.to_string()/>
                    <button type="submit" class="button danger small">"Revoke"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
